"""Generate mmgc's built-in toy COCO dataset (coloured shapes).

Usage:
    python tools/generate_toy_data.py                 # writes data/toy_coco/
    python tools/generate_toy_data.py --out-dir data/my_toy --num-train 1000

The output is deterministic: the same settings always give the same files.
Re-running with the same settings does nothing (--overwrite writes the
files again, e.g. to repair a damaged one); the toy configs in
configs/toy/ read data/toy_coco/ (relative to the repository root, from where
tools/train.py is run).
"""
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# Run from a source checkout without installing mmgc.
sys.path.insert(0, str(REPO_ROOT))

from mmgc.datasets.cli import generator_parser, run_generator  # noqa: E402
from mmgc.datasets.toy_coco import (ToyCocoSettings,  # noqa: E402
                                    generate_toy_coco)

DEFAULTS = ToyCocoSettings()


def parse_args(argv=None):
    return generator_parser(
        'Draw the toy COCO-format detection and instance segmentation '
        'dataset used by configs/toy/.', REPO_ROOT, 'toy_coco', {
            '--num-train': dict(type=int, default=DEFAULTS.num_train),
            '--num-val': dict(type=int, default=DEFAULTS.num_val),
            '--image-size': dict(type=int, default=DEFAULTS.image_size,
                                 help='side of the square images in pixels'),
            '--seed': dict(type=int, default=DEFAULTS.seed),
        }).parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    settings = ToyCocoSettings(
        num_train=args.num_train,
        num_val=args.num_val,
        image_size=args.image_size,
        seed=args.seed)
    run_generator('toy_coco', lambda progress: generate_toy_coco(
        args.out_dir, settings, overwrite=args.overwrite, progress=progress))


if __name__ == '__main__':
    main()
