"""Compare a baseline with its GC twin: train both, then tabulate and plot.

Usage:
    # train both configs with the same seed(s), then compare
    python tools/compare.py BASELINE_CONFIG GC_CONFIG [--seeds 0 1 2]
        [--work-dir work_dirs/compare] [--cfg-options KEY=VALUE ...]
        [--jobs N] [--gpus N]
    # compare finished runs (work dirs written by tools/train.py or by an
    # earlier compare) without training
    python tools/compare.py BASELINE_WORK_DIR GC_WORK_DIR

Each run trains in its own process (tools/train.py, or torchrun with
``--gpus N``; ``--jobs N`` runs N of them at once) into
``<work-dir>/<config name>/seed_<seed>/``. A run that already finished is
reused (delete its folder to train it again) and an interrupted one resumes. The final
validation metrics (mmdet's CocoMetric for detection, the ReID metric for
ReID configs, mmpretrain's Accuracy for classification, with the top-k error
beside it) are shown in the paper's format: mean and standard deviation
over seeds, and the change from the baseline (paired by seed). The table goes
to stdout and ``comparison.md``/``comparison.json``; ``loss_curves.png`` and
``metrics_per_epoch.png`` are written beside them.

This file is the command line; the logic is in :mod:`mmgc.comparison`.
"""
import argparse
import json
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# Run from a source checkout without installing mmgc.
sys.path.insert(0, str(REPO_ROOT))

from mmgc.comparison import (build_table, collect_runs,  # noqa: E402
                             format_duration, format_per_seed, format_table,
                             log, pair_by_seed, plan_runs, plot_losses,
                             plot_metrics, run_tasks, unpaired_seeds)

TRAIN_SCRIPT = REPO_ROOT / 'tools' / 'train.py'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Train a baseline config and its GC twin with the same '
        'seeds (or read their finished work dirs) and compare them.')
    parser.add_argument(
        'baseline', help='baseline config (.py) or its finished work dir')
    parser.add_argument(
        'candidate', help='GC config (.py) or its finished work dir')
    parser.add_argument(
        '--seeds', type=int, nargs='+', default=[0],
        help='seeds to train each config with (default: 0)')
    parser.add_argument(
        '--work-dir', default='work_dirs/compare',
        help='where runs, the table and the plots go '
        '(default: work_dirs/compare)')
    parser.add_argument(
        '--names', nargs=2, default=['w/o GC', 'w/ GC'],
        metavar=('BASELINE', 'CANDIDATE'),
        help='row labels of the table (default: "w/o GC" "w/ GC")')
    parser.add_argument(
        '--metrics', nargs='+',
        help='metric keys to show (default: the COCO box/mask, ReID or '
        'classification set the runs logged)')
    parser.add_argument(
        '--cfg-options', nargs='+', default=[],
        help='key=value overrides passed to tools/train.py for both configs')
    parser.add_argument(
        '--gpus', type=int, default=1,
        help='processes per run; above 1 trains with torchrun')
    parser.add_argument(
        '--jobs', type=int, default=1,
        help='training runs at a time (default 1); with N > 1 each run gets '
        'cores/N OpenMP threads unless OMP_NUM_THREADS is set. On a 2-core '
        'CPU, --jobs 2 trains baseline and GC side by side')
    parser.add_argument(
        '--python', default=sys.executable,
        help='interpreter for the training processes')
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.gpus < 1:
        parser.error('--jobs and --gpus must be at least 1')
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f'--seeds has repeated values: {args.seeds}')
    if args.names[0] == args.names[1]:
        parser.error('--names must differ')
    return args


def main(argv=None):
    args = parse_args(argv)
    start = time.monotonic()
    out_dir = Path(args.work_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = (args.baseline, args.candidate)
    if args.baseline == args.candidate:
        raise ValueError('The baseline and the GC side are the same: '
                         f'{args.baseline}.')
    tasks = plan_runs(sources, args.names, args.seeds, args.work_dir,
                      args.cfg_options)
    if tasks:
        log(f'{len(tasks)} training run(s) to do or reuse, seeds '
            f'{args.seeds}, results in {out_dir}')
    durations = run_tasks(tasks, args.cfg_options, jobs=args.jobs,
                          gpus=args.gpus, python=args.python,
                          train_script=TRAIN_SCRIPT)
    baseline = collect_runs(args.baseline, tasks)
    candidate = collect_runs(args.candidate, tasks)
    pairs = pair_by_seed(baseline, candidate)
    for side, seeds in unpaired_seeds(baseline, candidate).items():
        name = args.names[0 if side == 'baseline' else 1]
        log(f'warning: seed(s) {seeds} only have a {name} run; left out of '
            'the table')
    table = build_table(pairs, args.names, args.metrics)
    epochs = set(table['final_epochs']['baseline'] +
                 table['final_epochs']['candidate'])
    if len(epochs) > 1:
        log(f'warning: the runs ended at different epochs {sorted(epochs)}; '
            'each run shows its last evaluation')

    text = format_table(table)
    header = (f'{args.names[0]}: {args.baseline}\n'
              f'{args.names[1]}: {args.candidate}\n'
              f'seeds: {table["seeds"]}, final epoch: {sorted(epochs)}; '
              'mean±std over seeds, delta paired by seed')
    print(f'\n{header}\n\n{text}\n')
    if len(pairs) > 1:
        print(format_per_seed(table) + '\n')

    loss_png = out_dir / 'loss_curves.png'
    metrics_png = out_dir / 'metrics_per_epoch.png'
    plot_losses(pairs, args.names, loss_png)
    plot_metrics(pairs, args.names, table, metrics_png)
    (out_dir / 'comparison.md').write_text(
        header.replace('\n', '  \n') + '\n\n' +
        format_table(table, markdown=True) + '\n')
    (out_dir / 'comparison.json').write_text(
        json.dumps(
            dict(table, baseline=args.baseline, candidate=args.candidate,
                 train_seconds=[
                     dict(name=n, seed=s, seconds=round(t, 1))
                     for n, s, t in durations
                 ]),
            indent=2))
    log(f'table: {out_dir / "comparison.md"} (numbers: '
        f'{out_dir / "comparison.json"})')
    log(f'plots: {loss_png} and {metrics_png}')
    log(f'total wall time {format_duration(time.monotonic() - start)}')


if __name__ == '__main__':
    main()
