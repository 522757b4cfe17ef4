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
import argparse
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# Run from a source checkout without installing mmgc.
sys.path.insert(0, str(REPO_ROOT))

from mmgc.datasets.toy_coco import (ToyCocoSettings,  # noqa: E402
                                    generate_toy_coco)

DEFAULTS = ToyCocoSettings()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Draw the toy COCO-format detection and instance '
        'segmentation dataset used by configs/toy/.')
    parser.add_argument(
        '--out-dir',
        default=str(REPO_ROOT / 'data' / 'toy_coco'),
        help='output folder (default: data/toy_coco in the repository)')
    parser.add_argument('--num-train', type=int, default=DEFAULTS.num_train)
    parser.add_argument('--num-val', type=int, default=DEFAULTS.num_val)
    parser.add_argument(
        '--image-size', type=int, default=DEFAULTS.image_size,
        help='side of the square images in pixels')
    parser.add_argument('--seed', type=int, default=DEFAULTS.seed)
    parser.add_argument(
        '--overwrite', action='store_true',
        help='replace data written earlier, with other settings or the '
        'same (to repair damaged files)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    settings = ToyCocoSettings(
        num_train=args.num_train,
        num_val=args.num_val,
        image_size=args.image_size,
        seed=args.seed)
    start = time.monotonic()
    try:
        ann_files = generate_toy_coco(
            args.out_dir,
            settings,
            overwrite=args.overwrite,
            progress=lambda message: print(f'[toy_coco] {message}',
                                           flush=True))
    except (FileExistsError, ValueError) as error:
        sys.exit(f'[toy_coco] error: {error}')
    print(f'[toy_coco] done in {time.monotonic() - start:.1f}s: '
          f'{ann_files["train"]} and {ann_files["val"]}')


if __name__ == '__main__':
    main()
