"""Compare a baseline with its GC twin: train both, then tabulate and plot.

Usage:
    # train both configs with the same seed(s), then compare
    python tools/compare.py BASELINE_CONFIG GC_CONFIG [--seeds 0 1 2]
        [--work-dir work_dirs/compare] [--cfg-options KEY=VALUE ...]
        [--jobs N] [--gpus N] [--strict-twin] [--out STEM]
        [--sweep KEY=V1,V2,...]
    # compare finished runs (work dirs written by tools/train.py or by an
    # earlier compare) without training
    python tools/compare.py BASELINE_WORK_DIR GC_WORK_DIR

Each run trains in its own process (tools/train.py, or torchrun with
``--gpus N``; ``--jobs N`` runs N of them at once) into
``<work-dir>/<config name>/seed_<seed>/``, which records the resolved config
it trains (``compare_run.json``). A run that already finished is reused
(delete its folder to train it again) and an interrupted one resumes, but a
folder trained with another resolved config (other ``--cfg-options``, an
edited config) is refused before anything trains: use another
``--work-dir`` for another configuration. The seeds come from ``--seeds``
only (``randomness.seed`` in ``--cfg-options`` is refused).

Before training, the two resolved configs are compared: what the GC twin
changes besides the optimizer's type and GC options is named in a warning
(and in the table's files); ``--strict-twin`` refuses such a pair instead.
Which side applies GC is asked of each side's optimizer (built as its
config's constructor builds it): a pair given in the wrong order (GC first)
is refused with the command to swap them, and so is a pair where neither
side applies GC, or both do (two GC variants are compared only with
``--names``, which replaces the "w/o GC"/"w/ GC" labels).

The final validation metrics (mmdet's CocoMetric for detection, the ReID
metric for ReID configs, mmpretrain's Accuracy for classification, with the
top-k error beside it) are shown in the paper's format: mean and standard
deviation over seeds, and the change from the baseline (paired by seed).
Below each block, per metric: the mean paired change, its 95% confidence
interval over seeds (Student t) and a verdict, which names a direction only
on 3 or more seeds; when every seed gave the same change there is no
interval, and the verdict says so. The table goes to stdout and
``comparison.md``/``comparison.json``; ``loss_curves.png``,
``metrics_per_epoch.png`` and ``paired_seeds.png`` (each seed's pair) are
written beside them. ``--out STEM`` also writes the table to ``STEM.md``
(with the command and the machine) and the numbers to ``STEM.json`` (per
seed values, intervals, each run's wall time from its log), and copies the
figures to ``STEM_loss.png``, ``STEM_metrics.png`` and ``STEM_paired.png``,
for the documentation to include.

``--sweep KEY=V1,V2,...`` compares the pair at every value of one config
key (the paper's weight-decay and learning-rate tables): every value trains
with the same seeds into ``<work-dir>/<KEY>=<value>/`` (a comparison of its
own, reused and resumed like any other), and one table shows a row per
value: both methods' mean ± std, the paired delta, its 95% interval, on how
many seeds GC did better and the verdict (``sweep.md``, ``sweep.json``,
``sweep.png``; ``--out STEM`` writes ``STEM.md``, ``STEM.json`` and
``STEM_sweep.png``). The key must exist in both configs; ``randomness.seed``
and a key also in ``--cfg-options`` are refused.

Where the runs logged GradientStatsHook's scalars, ``gradients.png`` shows
them for both methods (the paper's Figure 4; with ``--out``,
``STEM_gradients.png``).

This file is the command line; the logic is in :mod:`mmgc.comparison`.
"""
import argparse
import datetime
import json
import re
import shutil
import sys
import time
from pathlib import Path
from typing import List, NoReturn, Optional

REPO_ROOT = Path(__file__).resolve().parents[1]
# Run from a source checkout without installing mmgc.
sys.path.insert(0, str(REPO_ROOT))

from mmgc.comparison import (build_table, check_cfg_options,  # noqa: E402
                             check_sweep_key, collect_runs, flat_config,
                             format_differences, format_duration,
                             format_per_seed, format_sweep, format_table,
                             load_resolved, log, pair_by_seed, parse_sweep,
                             plan_runs, plot_gradients, plot_losses,
                             plot_metrics, plot_paired, plot_sweep,
                             run_tasks, sweep_table, twin_differences,
                             unpaired_seeds, value_folder)
from mmgc.comparison.configs import (check_gc_sides, gc_use,  # noqa: E402
                                     show_value)
from mmgc.comparison.training import source_config  # noqa: E402
from mmgc.reporting import write_result_files  # noqa: E402

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
        '--seeds', type=int, nargs='+', action='extend',
        help='seeds to train each config with (default: 0); repeated '
        '--seeds add up, a seed given twice trains once')
    parser.add_argument(
        '--work-dir', default='work_dirs/compare',
        help='where runs, the table and the plots go '
        '(default: work_dirs/compare)')
    parser.add_argument(
        '--names', nargs=2, metavar=('BASELINE', 'CANDIDATE'),
        help='row labels of the table (default: "w/o GC" "w/ GC"); needed '
        'to compare two configs that both apply GC')
    parser.add_argument(
        '--metrics', nargs='+',
        help='metric keys to show (default: the COCO box/mask, ReID or '
        'classification set the runs logged)')
    parser.add_argument(
        '--cfg-options', nargs='+', action='extend', default=[],
        help='key=value overrides passed to tools/train.py for both configs '
        '(not randomness.seed: seeds come from --seeds)')
    parser.add_argument(
        '--strict-twin', action='store_true',
        help='refuse a GC config that changes more than the optimizer\'s '
        'type and GC options (default: warn and compare anyway)')
    parser.add_argument(
        '--gpus', type=int, default=1,
        help='processes per run; above 1 trains with torchrun')
    parser.add_argument(
        '--jobs', type=int, default=1,
        help='training runs at a time (default 1); with N > 1 each run gets '
        'cores/N OpenMP threads unless OMP_NUM_THREADS is set. On a 2-core '
        'CPU, --jobs 2 trains baseline and GC side by side')
    parser.add_argument(
        '--out', metavar='STEM',
        help='also write the table to STEM.md (with the command and the '
        'machine) and the numbers to STEM.json (per-seed values, intervals, '
        'run times), for the documentation')
    parser.add_argument(
        '--sweep', metavar='KEY=V1,V2,...',
        help='compare the pair at every value of one config key, with the '
        'same seeds at each (e.g. optim_wrapper.optimizer.weight_decay='
        '0,1e-4,5e-4): one comparison per value in <work-dir>/<KEY>=<value>/ '
        'and a table of all values (sweep.md, sweep.json, sweep.png)')
    parser.add_argument(
        '--python', default=sys.executable,
        help='interpreter for the training processes')
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.gpus < 1:
        parser.error('--jobs and --gpus must be at least 1')
    # In order, each once: dict keys keep the first occurrence.
    args.seeds = list(dict.fromkeys(args.seeds or [0]))
    try:
        check_cfg_options(args.cfg_options)
        if args.sweep is not None:
            args.sweep = parse_sweep(args.sweep, args.cfg_options)
    except ValueError as error:
        parser.error(str(error))
    # Two GC sides are compared only under labels the user chose.
    args.names_given = args.names is not None
    args.names = args.names or ['w/o GC', 'w/ GC']
    if args.names[0] == args.names[1]:
        parser.error('--names must differ')
    return args


def refuse(message: str) -> NoReturn:
    """Stop before anything misleading is trained or written."""
    print(f'[compare] refused: {message}', file=sys.stderr, flush=True)
    raise SystemExit(2)


def check_gc_order(args, baseline, candidate) -> dict:
    """Refuse a pair whose GC side is not the second one (swapped, no GC on
    either side, or GC on both without --names) before anything trains."""
    if baseline is None or candidate is None:
        return dict(checked=False, note='a side records no config (see the '
                    'twin check), so which side applies GC is not checked')
    uses = [gc_use(side.flat) for side in (baseline, candidate)]
    try:
        note = check_gc_sides(args.baseline, uses[0], args.candidate,
                              uses[1], names_given=args.names_given)
    except ValueError as error:
        refuse(str(error))
    checked = None not in (uses[0].applies, uses[1].applies)
    if not checked or all(use.applies for use in uses):
        log(f'warning: {note}')
    return dict(checked=checked, note=note, baseline=dict(
        applies_gc=uses[0].applies, how=uses[0].how), candidate=dict(
            applies_gc=uses[1].applies, how=uses[1].how))


def check_twin(args, baseline, candidate) -> dict:
    """Compare the two resolved configs before training: what the GC side
    changes besides GC is warned about (refused with --strict-twin)."""
    if baseline is None or candidate is None:
        missing = args.baseline if baseline is None else args.candidate
        note = (f'the config {missing} was trained with is not recorded '
                '(no compare_run.json or dumped config), so the twin is not '
                'checked')
        if args.strict_twin:
            refuse(f'--strict-twin: {note}.')
        log(f'warning: {note}')
        return dict(checked=False, note=note, differences=[])
    ignore = baseline.unknown_keys + candidate.unknown_keys
    if baseline.dumped != candidate.dumped:
        # One side is mmengine's dump, with what tools/train.py adds to a
        # config; the other side's config file never has those keys.
        dumped, plain = ((baseline, candidate) if baseline.dumped else
                         (candidate, baseline))
        ignore += tuple(sorted(dumped.flat.keys() - plain.flat.keys()))
    differences = twin_differences(baseline.flat, candidate.flat, ignore)
    check = dict(checked=True, differences=[
        dict(key=key, baseline=a, candidate=b) for key, a, b in differences
    ])
    if not differences:
        check['note'] = ('the GC side differs from the baseline only in the '
                         "optimizer's type and GC options")
        return check
    check['note'] = (f'besides GC, {args.names[1]} changes: '
                     f'{format_differences(differences, limit=None)}')
    listing = '\n'.join(f'  {key}: {show_value(a)} -> {show_value(b)}'
                        for key, a, b in differences)
    if args.strict_twin:
        refuse(f'--strict-twin: {args.candidate} is not a GC-only twin of '
               f'{args.baseline}; besides GC it changes:\n{listing}\n'
               "Make it differ only in the optimizer's type and GC options, "
               'or drop --strict-twin to compare with a warning.')
    log(f'warning: {args.names[1]} is not a GC-only twin of '
        f'{args.names[0]}; besides GC it changes:\n{listing}\n'
        '[compare] The table will measure these changes together with GC '
        '(--strict-twin refuses such a pair).')
    return check


SESSION_DIR = re.compile(r'^\d{8}_\d{6}$')


def run_wall_seconds(run_dir: Path) -> Optional[float]:
    """Wall time a run trained, from its logs: per session (mmengine's
    timestamped folder, one per start or resume), from the start its name
    records to the last write of its log. None when there is no log."""
    total, found = 0.0, False
    for session in sorted(Path(run_dir).iterdir()):
        log_file = session / f'{session.name}.log'
        if not (SESSION_DIR.match(session.name) and log_file.is_file()):
            continue
        start = datetime.datetime.strptime(session.name, '%Y%m%d_%H%M%S')
        total += log_file.stat().st_mtime - start.timestamp()
        found = True
    return round(total, 1) if found else None


def run_times(pairs, names) -> List[dict]:
    return [
        dict(name=name, seed=run.seed, path=str(run.path),
             wall_seconds=run_wall_seconds(run.path))
        for pair in pairs for name, run in zip(names, pair)
    ]


def write_out(args, header: str, text: str, per_seed: str, data: dict,
              times: List[dict], title: Optional[str] = None,
              figures: Optional[dict] = None) -> None:
    """STEM.md and STEM.json for the documentation (--out), and the figures
    a page shows beside them (STEM_<name>.png)."""
    known = [t['wall_seconds'] for t in times if t['wall_seconds']]
    timing = ''
    if known:
        timing = (f'Wall time per run, from the runs\' logs: '
                  f'{format_duration(min(known))} to '
                  f'{format_duration(max(known))} (mean '
                  f'{format_duration(sum(known) / len(known))}); '
                  f'{args.jobs} run(s) trained at a time.')
    write_result_files(
        args.out,
        title=title or (f'{args.names[0]} vs {args.names[1]}: '
                        f'{Path(args.baseline).stem} and '
                        f'{Path(args.candidate).stem}, '
                        f'{len(data["seeds"])} seed(s)'),
        table='\n\n'.join(filter(None, [header, text, per_seed])),
        data=dict(data, run_times=times), note=timing)
    written = [f'{args.out}.md', f'{args.out}.json']
    for name, figure in (figures or {}).items():
        target = Path(f'{args.out}_{name}.png')
        shutil.copyfile(figure, target)
        written.append(str(target))
    log(f'result files for the documentation: {", ".join(written)}')


def prepare(args, cfg_options, work_dir) -> dict:
    """Plan one comparison's runs and check the pair (order of the GC
    sides, twin), refusing before anything trains."""
    try:
        tasks = plan_runs((args.baseline, args.candidate), args.names,
                          args.seeds, work_dir, cfg_options, gpus=args.gpus)
    except ValueError as error:
        refuse(str(error))
    sides = [source_config(source, tasks)
             for source in (args.baseline, args.candidate)]
    return dict(tasks=tasks, cfg_options=list(cfg_options),
                work_dir=Path(work_dir),
                gc_sides=check_gc_order(args, *sides),
                twin=check_twin(args, *sides))


def train_and_tabulate(args, plan: dict) -> dict:
    """Train (or reuse) the planned runs, then print the table and write
    it, its numbers and the plots into the comparison's work dir."""
    out_dir, tasks, twin = plan['work_dir'], plan['tasks'], plan['twin']
    gc_sides = plan['gc_sides']
    out_dir.mkdir(parents=True, exist_ok=True)
    if tasks:
        log(f'{len(tasks)} training run(s) to do or reuse, seeds '
            f'{args.seeds}, results in {out_dir}')
    durations = run_tasks(tasks, plan['cfg_options'], jobs=args.jobs,
                          gpus=args.gpus, python=args.python,
                          train_script=TRAIN_SCRIPT)
    baseline = collect_runs(args.baseline, tasks)
    candidate = collect_runs(args.candidate, tasks)
    pairs = pair_by_seed(baseline, candidate)
    for side, seeds in unpaired_seeds(baseline, candidate).items():
        name = args.names[0 if side == 'baseline' else 1]
        log(f'warning: seed(s) {seeds} only have a {name} run; left out of '
            'the table')
    try:
        table = build_table(pairs, args.names, args.metrics)
    except ValueError as error:
        refuse(str(error))
    epochs = set(table['final_epochs']['baseline'] +
                 table['final_epochs']['candidate'])
    if len(epochs) > 1:
        log(f'warning: the runs ended at different epochs {sorted(epochs)}; '
            'each run shows its last evaluation')

    text = format_table(table)
    header = (f'{args.names[0]}: {args.baseline}\n'
              f'{args.names[1]}: {args.candidate}\n'
              + (f'sweep value: {plan["sweep_value"]}\n'
                 if plan.get('sweep_value') else '')
              + f'seeds: {table["seeds"]}, final epoch: {sorted(epochs)}; '
              'mean±std over seeds, delta paired by seed\n'
              f'pairs: {table["pairing"]["note"]}\n'
              + ('twin: ' if not twin['differences'] else 'WARNING, twin: ')
              + twin['note'])
    if not gc_sides['checked'] or gc_sides['baseline']['applies_gc']:
        # Sides not told apart, or two GC variants: the files say so.
        header += f'\nsides: {gc_sides["note"]}'
    print(f'\n{header}\n\n{text}\n')
    per_seed = format_per_seed(table) if len(pairs) > 1 else ''
    if per_seed:
        print(per_seed + '\n')

    plots = dict(loss=out_dir / 'loss_curves.png',
                 metrics=out_dir / 'metrics_per_epoch.png',
                 paired=out_dir / 'paired_seeds.png')
    plot_losses(pairs, args.names, plots['loss'])
    plot_metrics(pairs, args.names, table, plots['metrics'])
    plot_paired(table, plots['paired'])
    if plot_gradients(pairs, args.names, out_dir / 'gradients.png'):
        plots['gradients'] = out_dir / 'gradients.png'
    (out_dir / 'comparison.md').write_text(
        header.replace('\n', '  \n') + '\n\n' +
        format_table(table, markdown=True) + '\n')
    data = dict(table, baseline=args.baseline, candidate=args.candidate,
                cfg_options=plan['cfg_options'], twin_check=twin,
                gc_sides=gc_sides,
                train_seconds=[
                    dict(name=n, seed=s, seconds=round(t, 1))
                    for n, s, t in durations
                ])
    (out_dir / 'comparison.json').write_text(json.dumps(data, indent=2))
    log(f'table: {out_dir / "comparison.md"} (numbers: '
        f'{out_dir / "comparison.json"})')
    log('plots: ' + ', '.join(str(path) for path in plots.values()))
    return dict(table=table, header=header, text=text, per_seed=per_seed,
                data=data, pairs=pairs, plots=plots)


def run_sweep(args) -> None:
    """The pair at every value of ``--sweep KEY=V1,V2,...``: one comparison
    per value in ``<work-dir>/<KEY>=<value>/``, then the sweep's table."""
    key, texts, values = args.sweep
    for source in (args.baseline, args.candidate):
        if Path(source).suffix != '.py':
            refuse(f'--sweep trains the pair at every value, so it takes the '
                   f'two configs (.py), not {source}.')
    try:
        check_sweep_key(key, values, [
            flat_config(load_resolved(Path(source), args.cfg_options))
            for source in (args.baseline, args.candidate)
        ])
    except ValueError as error:
        refuse(str(error))
    out_dir = Path(args.work_dir)
    # Every value planned and checked before the first run trains.
    plans = [
        dict(prepare(args, args.cfg_options + [f'{key}={text}'],
                     out_dir / value_folder(key, text)),
             sweep_value=f'{key}={text}') for text in texts
    ]
    results = []
    for text, plan in zip(texts, plans):
        log(f'sweep: {key}={text}')
        results.append(train_and_tabulate(args, plan))
    try:
        sweep = sweep_table(key, texts, values,
                            [r['table'] for r in results],
                            args.metrics[0] if args.metrics else None)
    except KeyError as error:
        refuse(str(error))
    text = format_sweep(sweep)
    header = (f'{args.names[0]}: {args.baseline}\n'
              f'{args.names[1]}: {args.candidate}\n'
              + (f'cfg-options: {" ".join(args.cfg_options)}\n'
                 if args.cfg_options else '')
              + f'sweep: {key} = {", ".join(texts)}; the same seeds '
              f'{args.seeds} at every value (same initial weights and data '
              'order)\n'
              f'twin: {plans[0]["twin"]["note"]}')
    print(f'\n{header}\n\n{text}\n')
    plot_file = out_dir / 'sweep.png'
    plot_sweep(sweep, plot_file)
    (out_dir / 'sweep.md').write_text(
        header.replace('\n', '  \n') + '\n\n' +
        format_sweep(sweep, markdown=True) + '\n')
    data = dict(sweep, baseline=args.baseline, candidate=args.candidate,
                cfg_options=args.cfg_options, seeds=args.seeds,
                twin_check=plans[0]['twin'], gc_sides=plans[0]['gc_sides'],
                values=[dict(value=t, comparison=str(p['work_dir']))
                        for t, p in zip(texts, plans)])
    (out_dir / 'sweep.json').write_text(json.dumps(data, indent=2))
    log(f'sweep table: {out_dir / "sweep.md"} (numbers: '
        f'{out_dir / "sweep.json"}); plot: {plot_file}')
    if args.out:
        times = [t for r in results
                 for t in run_times(r['pairs'], args.names)]
        write_out(args, header, text, '', data, times,
                  title=(f'{args.names[0]} vs {args.names[1]} at each '
                         f'{key}: {Path(args.baseline).stem} and '
                         f'{Path(args.candidate).stem}, '
                         f'{len(args.seeds)} seed(s) per value'),
                  figures=dict(sweep=plot_file))


def main(argv=None):
    args = parse_args(argv)
    start = time.monotonic()
    if args.baseline == args.candidate:
        raise ValueError('The baseline and the GC side are the same: '
                         f'{args.baseline}.')
    if args.sweep:
        run_sweep(args)
    else:
        result = train_and_tabulate(
            args, prepare(args, args.cfg_options, args.work_dir))
        if args.out:
            write_out(args, result['header'], result['text'],
                      result['per_seed'], result['data'],
                      run_times(result['pairs'], args.names),
                      figures=result['plots'])
    log(f'total wall time {format_duration(time.monotonic() - start)}')


if __name__ == '__main__':
    main()
