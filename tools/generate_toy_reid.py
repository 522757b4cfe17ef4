"""Write the built-in toy ReID dataset (Market-1501 layout).

Usage::

    python tools/generate_toy_reid.py                 # -> data/toy_market1501
    python tools/generate_toy_reid.py --out-dir D --num-train-ids 50 --seed 1

The same arguments always give the same images; a folder that already
holds them is left as it is, and data written with other arguments is
replaced only with --overwrite.
"""
import argparse
import os.path as osp
import sys
import time

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate the synthetic Market-1501-layout ReID dataset.')
    parser.add_argument(
        '--out-dir',
        default=osp.join(REPO_ROOT, 'data', 'toy_market1501'),
        help='output folder (default: data/toy_market1501 in the repo)')
    parser.add_argument('--num-train-ids', type=int, default=120)
    parser.add_argument('--num-test-ids', type=int, default=100)
    parser.add_argument('--num-cameras', type=int, default=6)
    parser.add_argument('--num-distractors', type=int, default=100)
    parser.add_argument('--num-junk', type=int, default=20)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='replace data written earlier with other arguments')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    sys.path.insert(0, REPO_ROOT)  # run from a checkout without installing
    from mmgc.reid.toy_market1501 import generate_toy_market1501

    start = time.perf_counter()
    try:
        counts = generate_toy_market1501(
            args.out_dir,
            num_train_ids=args.num_train_ids,
            num_test_ids=args.num_test_ids,
            num_cameras=args.num_cameras,
            num_distractors=args.num_distractors,
            num_junk=args.num_junk,
            seed=args.seed,
            overwrite=args.overwrite,
            progress=lambda message: print(f'[toy_reid] {message}',
                                           flush=True))
    except (FileExistsError, ValueError) as error:
        sys.exit(f'[toy_reid] error: {error}')
    print(f'Wrote {args.out_dir} in {time.perf_counter() - start:.1f}s: ' +
          ', '.join(f'{k}={v}' for k, v in counts.items()))


if __name__ == '__main__':
    main()
