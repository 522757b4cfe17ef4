"""Generate mmgc's built-in toy classification dataset (ImageNet layout).

Usage:
    python tools/generate_toy_cls.py                  # writes data/toy_cls/
    python tools/generate_toy_cls.py --out-dir data/my_toy --num-train 300

The output is deterministic: the same settings always give the same files.
Re-running with the same settings does nothing; the toy classification
configs in configs/classification/toy/ read data/toy_cls/ (relative to the
repository root, from where tools/train.py is run).
"""
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# Run from a source checkout without installing mmgc.
sys.path.insert(0, str(REPO_ROOT))

from mmgc.datasets.cli import generator_parser, run_generator  # noqa: E402
from mmgc.datasets.toy_cls import (TOY_CLS_CLASSES,  # noqa: E402
                                   ToyClsSettings, generate_toy_cls)

DEFAULTS = ToyClsSettings()


def parse_args(argv=None):
    return generator_parser(
        'Draw the toy image-classification dataset (ImageNet folder '
        'layout) used by configs/classification/toy/.', REPO_ROOT, 'toy_cls',
        {
            '--num-train': dict(type=int,
                                default=DEFAULTS.num_train_per_class,
                                help='training images per class'),
            '--num-val': dict(type=int, default=DEFAULTS.num_val_per_class,
                              help='validation images per class'),
            '--image-size': dict(type=int, default=DEFAULTS.image_size,
                                 help='side of the square images in pixels'),
            '--seed': dict(type=int, default=DEFAULTS.seed),
        }).parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    settings = ToyClsSettings(
        num_train_per_class=args.num_train,
        num_val_per_class=args.num_val,
        image_size=args.image_size,
        seed=args.seed)
    run_generator(
        'toy_cls', lambda progress: generate_toy_cls(
            args.out_dir, settings, overwrite=args.overwrite,
            progress=progress),
        summary=f'{len(TOY_CLS_CLASSES)} classes, ')


if __name__ == '__main__':
    main()
