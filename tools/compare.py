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
"""
import argparse
import json
import math
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

REPO_ROOT = Path(__file__).resolve().parents[1]
TRAIN_SCRIPT = REPO_ROOT / 'tools' / 'train.py'

# Known metric sets: (config key, column name). ``scale`` turns the logged
# value into the paper's unit (COCO logs fractions, the paper percentages).
METRIC_SETS = OrderedDict([
    ('bbox', dict(
        title='box',
        heading='Detection: COCO box AP (%)',
        scale=100.0,
        keys=[('coco/bbox_mAP', 'AP'), ('coco/bbox_mAP_50', 'AP50'),
              ('coco/bbox_mAP_75', 'AP75'), ('coco/bbox_mAP_s', 'APs'),
              ('coco/bbox_mAP_m', 'APm'), ('coco/bbox_mAP_l', 'APl')])),
    ('segm', dict(
        title='mask',
        heading='Instance segmentation: COCO mask AP (%)',
        scale=100.0,
        keys=[('coco/segm_mAP', 'AP'), ('coco/segm_mAP_50', 'AP50'),
              ('coco/segm_mAP_75', 'AP75'), ('coco/segm_mAP_s', 'APs'),
              ('coco/segm_mAP_m', 'APm'), ('coco/segm_mAP_l', 'APl')])),
    ('reid', dict(
        title='ReID',
        heading='ReID: mAP and CMC rank-k (%)',
        scale=1.0,  # the ReID metric already logs percentages
        keys=[('reid/mAP', 'mAP'), ('reid/R1', 'R1'), ('reid/R5', 'R5'),
              ('reid/R10', 'R10')])),
    ('cls', dict(
        title='cls',
        heading='Classification: top-1/top-5 accuracy and error (%)',
        scale=1.0,  # mmpretrain's Accuracy logs percentages
        decimals=2,  # as the paper's classification tables
        keys=[('accuracy/top1', 'top-1 acc'), ('accuracy/top5', 'top-5 acc'),
              ('error/top1', 'top-1 err'), ('error/top5', 'top-5 err')])),
])
# The paper reports ImageNet top-1 error; it is derived from the accuracy.
DERIVED_ERRORS = {'accuracy/top1': 'error/top1', 'accuracy/top5': 'error/top5'}
TIMESTAMP_DIR = re.compile(r'^\d{8}_\d{6}$')
TRAIN_LOG_LINE = re.compile(
    r'Epoch\(train\)\s+\[(\d+)\]\[\s*(\d+)/(\d+)\].*?eta:\s*(\S+).*?'
    r'\sloss:\s*([-\d.]+)')
VAL_LOG_LINE = re.compile(r'Epoch\(val\)\s+\[(\d+)\]\[\s*\d+/\d+\]\s+(.*)$')


_PRINT_LOCK = threading.Lock()


def log(message: str) -> None:
    with _PRINT_LOCK:
        print(f'[compare] {message}', flush=True)


# --------------------------------------------------------------------------
# Reading finished runs
# --------------------------------------------------------------------------
@dataclass
class Run:
    """One training run: its losses per iteration and metrics per epoch."""
    path: Path
    seed: Optional[int]
    train: Dict[int, dict] = field(default_factory=dict)  # iteration -> log
    val: Dict[int, dict] = field(default_factory=dict)  # epoch -> metrics

    @property
    def final_epoch(self) -> Optional[int]:
        return max(self.val) if self.val else None

    @property
    def final_metrics(self) -> dict:
        return self.val[self.final_epoch] if self.val else {}


def _scalar_files(run_dir: Path) -> List[Path]:
    """scalars.json of every session of a run (a resume starts a new one),
    oldest first."""
    sessions = sorted(p for p in run_dir.iterdir()
                      if p.is_dir() and TIMESTAMP_DIR.match(p.name))
    return [
        s / 'vis_data' / 'scalars.json' for s in sessions
        if (s / 'vis_data' / 'scalars.json').is_file()
    ]


def _seed_of(run_dir: Path) -> Optional[int]:
    match = re.fullmatch(r'seed_(\d+)', run_dir.name)
    if match:
        return int(match.group(1))
    # A plain tools/train.py work dir: the dumped config knows the seed.
    for config in sorted(run_dir.glob('*.py')):
        found = re.search(r'randomness\s*=\s*dict\([^)]*seed\s*=\s*(\d+)',
                          config.read_text(errors='replace'))
        if found:
            return int(found.group(1))
    return None


def read_run(run_dir: Path) -> Run:
    run = Run(path=run_dir, seed=_seed_of(run_dir))
    for scalars in _scalar_files(run_dir):
        for line in scalars.read_text().splitlines():
            if not line.strip():
                continue
            entry = json.loads(line)
            step = int(entry['step'])
            if 'loss' in entry:
                # A resumed session repeats no steps, but if it does, the
                # later session wins.
                run.train[step] = entry
            elif any('/' in key for key in entry):
                metrics = {
                    key: value
                    for key, value in entry.items()
                    if '/' in key and isinstance(value, (int, float))
                }
                for accuracy, error in DERIVED_ERRORS.items():
                    if accuracy in metrics and error not in metrics:
                        metrics[error] = 100.0 - metrics[accuracy]
                run.val[step] = metrics
    return run


def find_runs(work_dir: Path) -> List[Run]:
    """Runs below ``work_dir``: ``seed_*`` folders of a compare, or the work
    dir of a single tools/train.py run."""
    if not work_dir.is_dir():
        raise FileNotFoundError(f'{work_dir} is neither a config file nor a '
                                'work directory.')
    seed_dirs = sorted(
        (p for p in work_dir.iterdir()
         if p.is_dir() and re.fullmatch(r'seed_\d+', p.name)),
        key=lambda p: int(p.name[5:]))
    runs = [read_run(d) for d in (seed_dirs or [work_dir])]
    runs = [r for r in runs if r.val]
    if not runs:
        raise FileNotFoundError(
            f'{work_dir} holds no finished evaluation: expected '
            '<timestamp>/vis_data/scalars.json with validation metrics, as '
            'written by tools/train.py (val_interval must be set), in it or '
            'in its seed_<N>/ folders.')
    return runs


# --------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------
def _max_epochs(config: Path, cfg_options: Sequence[str]) -> Optional[int]:
    import warnings

    # mmengine imports the deprecated pkg_resources; the warning is noise here.
    warnings.filterwarnings('ignore', message='pkg_resources is deprecated')
    from mmengine.config import Config, DictAction
    cfg = Config.fromfile(str(config), import_custom_modules=False)
    if cfg_options:
        parser = argparse.ArgumentParser()
        parser.add_argument('--o', nargs='+', action=DictAction)
        cfg.merge_from_dict(parser.parse_args(['--o', *cfg_options]).o)
    return cfg.get('train_cfg', {}).get('max_epochs')


def _has_checkpoint(run_dir: Path) -> bool:
    return (run_dir / 'last_checkpoint').is_file()


@dataclass
class TrainTask:
    """One training run to do: a config with a seed, into run_dir."""
    config: Path
    run_dir: Path
    seed: int
    label: str
    max_epochs: Optional[int]
    index: int  # position among all tasks: picks a free torchrun port


def train_run(task: TrainTask, cfg_options: Sequence[str], gpus: int,
              python: str, threads: Optional[int]) -> float:
    """Train one run in a subprocess, printing progress; returns seconds."""
    config, run_dir, seed, label = (task.config, task.run_dir, task.seed,
                                    task.label)
    max_epochs = task.max_epochs
    existing = read_run(run_dir) if run_dir.is_dir() else None
    if (existing and max_epochs is not None
            and existing.final_epoch == max_epochs):
        log(f'{label} seed {seed}: finished run found in {run_dir}, reusing '
            'it')
        return 0.0
    run_dir.mkdir(parents=True, exist_ok=True)
    command = [python]
    if gpus > 1:
        command += [
            '-m', 'torch.distributed.run', f'--nproc_per_node={gpus}',
            f'--master_port={29500 + task.index}'
        ]
    command += [
        str(TRAIN_SCRIPT),
        str(config), '--work-dir',
        str(run_dir), '--cfg-options', f'randomness.seed={seed}',
        *cfg_options
    ]
    if gpus > 1:
        command += ['--launcher', 'pytorch']
    if _has_checkpoint(run_dir):
        command.append('--resume')
        log(f'{label} seed {seed}: resuming the interrupted run in {run_dir}')
    output_file = run_dir / 'train_output.log'
    log(f'{label} seed {seed}: training {config} (output: {output_file})')
    start = time.monotonic()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(REPO_ROOT), os.environ.get('PYTHONPATH')])))
    if threads is not None:
        env['OMP_NUM_THREADS'] = str(threads)
    with open(output_file, 'a') as output:
        output.write(f'$ {shlex.join(command)}\n')
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            env=env)
        assert process.stdout is not None
        for line in process.stdout:
            output.write(line)
            _report_progress(line, label, seed, max_epochs, start)
        returncode = process.wait()
    if returncode != 0:
        tail = output_file.read_text(errors='replace').splitlines()[-30:]
        print('\n'.join(tail), file=sys.stderr)
        raise RuntimeError(
            f'Training {label} (seed {seed}) failed with exit code '
            f'{returncode}; the last lines are above, the whole output is in '
            f'{output_file}.')
    elapsed = time.monotonic() - start
    log(f'{label} seed {seed}: done in {_format_duration(elapsed)}')
    return elapsed


def _report_progress(line: str, label: str, seed: int,
                     max_epochs: Optional[int], start: float) -> None:
    train = TRAIN_LOG_LINE.search(line)
    if train:
        epoch, iteration, iters, eta, loss = train.groups()
        total = f'/{max_epochs}' if max_epochs else ''
        log(f'{label} seed {seed}: epoch {epoch}{total} iter '
            f'{iteration}/{iters} loss {float(loss):.3f} '
            f'(elapsed {_format_duration(time.monotonic() - start)}, '
            f'run ETA {eta})')
        return
    val = VAL_LOG_LINE.search(line)
    # Only the epoch's last val line carries metrics (keys like coco/...).
    if val and re.search(r'\w/\w+:', val.group(2)):
        epoch, rest = val.groups()
        shown = []
        for key, name, scale in (('coco/bbox_mAP', 'box AP', 100),
                                 ('coco/segm_mAP', 'mask AP', 100),
                                 ('reid/mAP', 'ReID mAP', 1),
                                 ('reid/R1', 'R1', 1),
                                 ('accuracy/top1', 'top-1', 1),
                                 ('accuracy/top5', 'top-5', 1)):
            found = re.search(re.escape(key) + r':\s*([-\d.]+)', rest)
            if found:
                shown.append(f'{name} {float(found.group(1)) * scale:.1f}')
        log(f'{label} seed {seed}: epoch {epoch} evaluated: ' +
            (', '.join(shown) or rest.strip()[:120]))
    elif 'Traceback (most recent call last)' in line:
        log(f'{label} seed {seed}: the training process raised an error '
            '(details follow when it exits)')


def _format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return (f'{hours}h{minutes:02d}m{seconds:02d}s'
            if hours else f'{minutes}m{seconds:02d}s')


# --------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------
def metric_columns(runs: Sequence[Run],
                   requested: Optional[Sequence[str]] = None
                   ) -> List[Tuple[str, List[Tuple[str, str]], float, str]]:
    """Groups to show: (title, [(key, column)], display scale, heading).

    Known sets (COCO box, COCO mask, ReID) are used when their first key was
    logged by every run; with ``requested`` keys, exactly those are shown.
    """
    logged = set.intersection(*(set(r.final_metrics) for r in runs))
    if requested:
        unknown = [k for k in requested if k not in logged]
        if unknown:
            raise KeyError(
                f'Metrics {unknown} were not logged by every run; the runs '
                f'share: {sorted(logged)}.')
        groups = []
        for key in requested:
            scale, name, title = 1.0, key, key.split('/')[0]
            heading = title
            for spec in METRIC_SETS.values():
                for set_key, column in spec['keys']:
                    if set_key == key:
                        scale, name = spec['scale'], column
                        title, heading = spec['title'], spec['heading']
            if groups and groups[-1][0] == title and groups[-1][2] == scale:
                groups[-1][1].append((key, name))
            else:
                groups.append((title, [(key, name)], scale, heading))
        return groups
    groups = []
    for spec in METRIC_SETS.values():
        if spec['keys'][0][0] in logged:
            groups.append((spec['title'],
                           [(k, n) for k, n in spec['keys'] if k in logged],
                           spec['scale'], spec['heading']))
    if not groups:
        # An unknown metric set: show every metric all runs logged.
        groups.append(('metrics', [(k, k) for k in sorted(logged)], 1.0,
                       'Final validation metrics'))
    return groups


def _scaled(value: float, scale: float) -> Optional[float]:
    # COCOeval reports -1 for an area range without ground truth.
    return None if value < 0 else value * scale


def _mean_std(values: Sequence[Optional[float]]
              ) -> Tuple[Optional[float], Optional[float]]:
    if any(v is None for v in values):
        return None, None
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, None
    variance = sum((v - mean)**2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(variance)


def _cell(mean: Optional[float], std: Optional[float],
          signed: bool = False, decimals: int = 1) -> str:
    if mean is None:
        return 'n/a'
    text = f'{mean:+.{decimals}f}' if signed else f'{mean:.{decimals}f}'
    return text if std is None else f'{text}±{std:.{decimals}f}'


def _decimals(title: str) -> int:
    for spec in METRIC_SETS.values():
        if spec['title'] == title:
            return spec.get('decimals', 1)
    return 1


def _pair_by_seed(baseline: List[Run],
                  candidate: List[Run]) -> List[Tuple[Run, Run]]:
    seeds_a = [r.seed for r in baseline]
    seeds_b = [r.seed for r in candidate]
    if None not in seeds_a and None not in seeds_b:
        common = [s for s in seeds_a if s in seeds_b]
        if not common:
            raise ValueError(
                f'The runs share no seed (baseline {seeds_a}, GC '
                f'{seeds_b}); a comparison needs the same seeds.')
        by_seed_b = {r.seed: r for r in candidate}
        return [(r, by_seed_b[r.seed]) for r in baseline if r.seed in common]
    if len(baseline) != len(candidate):
        raise ValueError(
            f'Cannot pair {len(baseline)} baseline runs with '
            f'{len(candidate)} GC runs whose seeds are unknown.')
    return list(zip(baseline, candidate))


def build_table(pairs: List[Tuple[Run, Run]], names: Sequence[str],
                requested: Optional[Sequence[str]] = None) -> dict:
    """Numbers of the comparison: per method and per seed, with deltas."""
    runs = [r for pair in pairs for r in pair]
    groups = metric_columns(runs, requested)
    table = dict(
        names=list(names),
        seeds=[a.seed for a, _ in pairs],
        final_epochs=dict(
            baseline=[a.final_epoch for a, _ in pairs],
            candidate=[b.final_epoch for _, b in pairs]),
        groups=[])
    for title, columns, scale, heading in groups:
        group = dict(title=title, heading=heading, scale=scale,
                     decimals=_decimals(title), columns=[])
        for key, column in columns:
            a = [_scaled(pair[0].final_metrics[key], scale) for pair in pairs]
            b = [_scaled(pair[1].final_metrics[key], scale) for pair in pairs]
            delta = [
                None if x is None or y is None else y - x
                for x, y in zip(a, b)
            ]
            group['columns'].append(
                dict(key=key, name=column, baseline=a, candidate=b,
                     delta=delta))
        table['groups'].append(group)
    return table


def format_table(table: dict, markdown: bool = False) -> str:
    """One block per metric set (box, mask, ...), rows as in the paper."""
    names = table['names']
    blocks = []
    for group in table['groups']:
        rows = [['Method'], [names[0]], [names[1]], ['delta']]
        places = group.get('decimals', 1)
        for column in group['columns']:
            rows[0].append(column['name'])
            rows[1].append(
                _cell(*_mean_std(column['baseline']), decimals=places))
            rows[2].append(
                _cell(*_mean_std(column['candidate']), decimals=places))
            rows[3].append(
                _cell(*_mean_std(column['delta']), signed=True,
                      decimals=places))
        if markdown:
            lines = [f'**{group["heading"]}**', '',
                     '| ' + ' | '.join(rows[0]) + ' |',
                     '|' + '|'.join(['---'] + ['---:'] *
                                    (len(rows[0]) - 1)) + '|']
            lines += ['| ' + ' | '.join(row) + ' |' for row in rows[1:]]
        else:
            widths = [
                max(len(row[i]) for row in rows) for i in range(len(rows[0]))
            ]
            lines = [group['heading']]
            for index, row in enumerate(rows):
                cells = [row[0].ljust(widths[0])] + [
                    cell.rjust(width)
                    for cell, width in zip(row[1:], widths[1:])
                ]
                lines.append('  '.join(cells))
                if index == 0:
                    lines.append('-' * len(lines[-1]))
        blocks.append('\n'.join(lines))
    return '\n\n'.join(blocks)


def format_per_seed(table: dict) -> str:
    """Main metric of each group, seed by seed."""
    lines = []
    for group in table['groups']:
        column = group['columns'][0]
        places = group.get('decimals', 1)
        for seed, a, b, d in zip(table['seeds'], column['baseline'],
                                 column['candidate'], column['delta']):
            if d is None:
                continue
            lines.append(f'  seed {seed}: {group["title"]} {column["name"]} '
                         f'{a:.{places}f} -> {b:.{places}f} '
                         f'({d:+.{places}f})')
    return '\n'.join(lines)


# --------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------
def _smooth(values: List[float], window: int) -> List[float]:
    smoothed, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        smoothed.append(total / min(i + 1, window))
    return smoothed


def plot_losses(pairs, names, out_file: Path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    runs = [r for pair in pairs for r in pair]
    loss_keys = ['loss'] + sorted({
        k
        for r in runs for entry in r.train.values() for k in entry
        if k.startswith('loss_') and isinstance(entry[k], (int, float))
    })
    columns = min(3, len(loss_keys))
    rows = math.ceil(len(loss_keys) / columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(5 * columns, 3.6 * rows), squeeze=False)
    colours = ('tab:blue', 'tab:red')
    for axis, key in zip(axes.flat, loss_keys):
        for method, (name, colour) in enumerate(zip(names, colours)):
            for seed_index, pair in enumerate(pairs):
                run = pair[method]
                steps = sorted(s for s, e in run.train.items() if key in e)
                if not steps:
                    continue
                values = [run.train[s][key] for s in steps]
                window = max(1, len(values) // 20)
                axis.plot(
                    steps,
                    _smooth(values, window),
                    color=colour,
                    alpha=0.9 if len(pairs) == 1 else 0.6,
                    linewidth=1.2,
                    label=name if seed_index == 0 else None)
        axis.set_title(key)
        axis.set_xlabel('iteration')
        axis.grid(alpha=0.3)
        axis.legend()
    for axis in list(axes.flat)[len(loss_keys):]:
        axis.set_visible(False)
    figure.suptitle('Training losses (smoothed; one line per seed)')
    figure.tight_layout()
    figure.savefig(out_file, dpi=110)
    plt.close(figure)


def plot_metrics(pairs, names, table: dict, out_file: Path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator
    panels = [(group, column) for group in table['groups']
              for column in group['columns'][:3]]
    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(5 * columns, 3.6 * rows), squeeze=False)
    colours = ('tab:blue', 'tab:red')
    for axis, (group, column) in zip(axes.flat, panels):
        for method, (name, colour) in enumerate(zip(names, colours)):
            epochs = sorted(
                set.intersection(*(set(pair[method].val) for pair in pairs)))
            if not epochs:
                continue
            per_seed = [[
                _scaled(pair[method].val[e].get(column['key'], -1),
                        group['scale']) for e in epochs
            ] for pair in pairs]
            per_seed = [[math.nan if v is None else v for v in values]
                        for values in per_seed]
            mean = [sum(v) / len(v) for v in zip(*per_seed)]
            axis.plot(epochs, mean, marker='o', color=colour, label=name)
            if len(pairs) > 1:
                axis.fill_between(epochs, [min(v) for v in zip(*per_seed)],
                                  [max(v) for v in zip(*per_seed)],
                                  color=colour, alpha=0.15)
        axis.set_title(f'{group["title"]} {column["name"]}')
        axis.set_xlabel('epoch')
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
        axis.legend()
    for axis in list(axes.flat)[len(panels):]:
        axis.set_visible(False)
    suffix = ' (mean, band: min-max over seeds)' if len(pairs) > 1 else ''
    figure.suptitle('Validation metrics per epoch' + suffix)
    figure.tight_layout()
    figure.savefig(out_file, dpi=110)
    plt.close(figure)


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------
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


def plan_runs(sources: Sequence[str], names: Sequence[str],
              args) -> List[TrainTask]:
    """Training runs needed for the configs among ``sources``."""
    configs = [Path(s) for s in sources if Path(s).suffix == '.py']
    if len(configs) == 2 and configs[0].stem == configs[1].stem:
        raise ValueError(
            f'Both configs are named {configs[0].stem}; their runs would '
            'share a folder. Rename one of them.')
    tasks = []
    for source, label in zip(sources, names):
        path = Path(source)
        if path.suffix != '.py':
            continue
        if not path.is_file():
            raise FileNotFoundError(f'Config {source} does not exist.')
        max_epochs = _max_epochs(path, args.cfg_options)
        for seed in args.seeds:
            tasks.append(
                TrainTask(path, _run_dir(args.work_dir, path, seed), seed,
                          label, max_epochs, len(tasks)))
    return tasks


def _run_dir(work_dir: str, config: Path, seed: int) -> Path:
    return Path(work_dir) / config.stem / f'seed_{seed}'


def run_tasks(tasks: List[TrainTask], args) -> List[tuple]:
    """Train all tasks, ``args.jobs`` at a time; (label, seed, seconds)."""
    threads = None
    if args.jobs > 1:
        if 'OMP_NUM_THREADS' in os.environ:
            log(f'training {args.jobs} runs at a time, OMP_NUM_THREADS='
                f'{os.environ["OMP_NUM_THREADS"]} (from the environment)')
        else:
            # Share the cores instead of letting every process take all of
            # them (oversubscribed OpenMP threads slow CPU training down
            # many times).
            threads = max(1, _cpu_count() // args.jobs)
            log(f'training {args.jobs} runs at a time, {threads} thread(s) '
                'each')

    def train(task):
        return (task.label, task.seed,
                train_run(task, args.cfg_options, args.gpus, args.python,
                          threads))

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(train, task) for task in tasks]
        results, errors = [], []
        for future in futures:
            try:
                results.append(future.result())
            except RuntimeError as error:
                errors.append(str(error))
    if errors:
        raise RuntimeError('\n'.join(errors))
    return results


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def collect_runs(source: str, tasks: List[TrainTask], args) -> List[Run]:
    """Finished runs of one side: the trained seeds of a config, or what a
    given work dir holds."""
    path = Path(source)
    if path.suffix != '.py':
        return find_runs(path)
    mine = [t for t in tasks if t.config == path]
    runs = [read_run(t.run_dir) for t in mine]
    max_epochs = mine[0].max_epochs
    unfinished = [str(r.path) for r in runs if r.final_epoch != max_epochs]
    if max_epochs is not None and unfinished:
        raise RuntimeError(
            f'These runs ended before epoch {max_epochs}: {unfinished}.')
    return runs


def main(argv=None):
    args = parse_args(argv)
    start = time.monotonic()
    out_dir = Path(args.work_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = (args.baseline, args.candidate)
    if args.baseline == args.candidate:
        raise ValueError('The baseline and the GC side are the same: '
                         f'{args.baseline}.')
    tasks = plan_runs(sources, args.names, args)
    if tasks:
        log(f'{len(tasks)} training run(s) to do or reuse, seeds '
            f'{args.seeds}, results in {out_dir}')
    durations = run_tasks(tasks, args)
    baseline = collect_runs(args.baseline, tasks, args)
    candidate = collect_runs(args.candidate, tasks, args)
    pairs = _pair_by_seed(baseline, candidate)
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
    log(f'total wall time {_format_duration(time.monotonic() - start)}')


if __name__ == '__main__':
    main()
