"""Generate mmgc's built-in toy classification dataset (ImageNet layout).

Usage:
    python tools/generate_toy_cls.py                  # writes data/toy_cls/
    python tools/generate_toy_cls.py --out-dir data/my_toy --num-train 300

The output is deterministic: the same settings always give the same files.
Re-running with the same settings does nothing; the toy classification
configs in configs/classification/toy/ read data/toy_cls/ (relative to the
repository root, from where tools/train.py is run).
"""
import argparse
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# Run from a source checkout without installing mmgc.
sys.path.insert(0, str(REPO_ROOT))

from mmgc.datasets.toy_cls import (TOY_CLS_CLASSES,  # noqa: E402
                                   ToyClsSettings, generate_toy_cls)

DEFAULTS = ToyClsSettings()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Draw the toy image-classification dataset (ImageNet '
        'folder layout) used by configs/classification/toy/.')
    parser.add_argument(
        '--out-dir',
        default=str(REPO_ROOT / 'data' / 'toy_cls'),
        help='output folder (default: data/toy_cls in the repository)')
    parser.add_argument(
        '--num-train', type=int, default=DEFAULTS.num_train_per_class,
        help='training images per class')
    parser.add_argument(
        '--num-val', type=int, default=DEFAULTS.num_val_per_class,
        help='validation images per class')
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
    settings = ToyClsSettings(
        num_train_per_class=args.num_train,
        num_val_per_class=args.num_val,
        image_size=args.image_size,
        seed=args.seed)
    start = time.monotonic()
    try:
        ann_files = generate_toy_cls(
            args.out_dir,
            settings,
            overwrite=args.overwrite,
            progress=lambda message: print(f'[toy_cls] {message}',
                                           flush=True))
    except (FileExistsError, ValueError) as error:
        sys.exit(f'[toy_cls] error: {error}')
    print(f'[toy_cls] done in {time.monotonic() - start:.1f}s: '
          f'{len(TOY_CLS_CLASSES)} classes, {ann_files["train"]} and '
          f'{ann_files["val"]}')


if __name__ == '__main__':
    main()
