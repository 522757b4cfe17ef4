"""The comparison's plots: training losses per iteration and validation
metrics per epoch, baseline against GC, one line (or band) per seed.

matplotlib is imported when a plot is drawn, so reading runs and building
the table work without it.
"""
import math
from pathlib import Path
from typing import List, Sequence, Tuple

from .runs import Run
from .table import scaled

COLOURS = ('tab:blue', 'tab:red')  # baseline, GC


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')  # files only, no display needed
    import matplotlib.pyplot as plt
    return plt


def _save(plt, figure, out_file: Path, title: str, **title_options) -> None:
    """Title, lay out, write and close a figure."""
    figure.suptitle(title, **title_options)
    figure.tight_layout()
    figure.savefig(out_file, dpi=110)
    plt.close(figure)


def smooth(values: List[float], window: int) -> List[float]:
    """Running mean over the last ``window`` values (fewer at the start)."""
    smoothed, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        smoothed.append(total / min(i + 1, window))
    return smoothed


def plot_losses(pairs: Sequence[Tuple[Run, Run]], names: Sequence[str],
                out_file: Path) -> None:
    """``loss`` and every ``loss_*`` the runs logged, one panel each."""
    plt = _pyplot()
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
    for axis, key in zip(axes.flat, loss_keys):
        for method, (name, colour) in enumerate(zip(names, COLOURS)):
            for seed_index, pair in enumerate(pairs):
                run = pair[method]
                steps = sorted(s for s, e in run.train.items() if key in e)
                if not steps:
                    continue
                values = [run.train[s][key] for s in steps]
                window = max(1, len(values) // 20)
                axis.plot(
                    steps,
                    smooth(values, window),
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
    _save(plt, figure, out_file,
          'Training losses (smoothed; one line per seed)')


def plot_metrics(pairs: Sequence[Tuple[Run, Run]], names: Sequence[str],
                 table: dict, out_file: Path) -> None:
    """The first three columns of each table group, per epoch: the mean over
    seeds, with a min-max band when there are several."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator
    panels = [(group, column) for group in table['groups']
              for column in group['columns'][:3]]
    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(5 * columns, 3.6 * rows), squeeze=False)
    for axis, (group, column) in zip(axes.flat, panels):
        for method, (name, colour) in enumerate(zip(names, COLOURS)):
            epochs = sorted(
                set.intersection(*(set(pair[method].val) for pair in pairs)))
            if not epochs:
                continue
            per_seed = [[
                scaled(pair[method].val[e].get(column['key'], -1),
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
    _save(plt, figure, out_file, 'Validation metrics per epoch' + suffix)


def plot_paired(table: dict, out_file: Path) -> None:
    """Each seed's pair, per metric (the first three columns of each table
    group): the baseline's and the candidate's final value joined by a line,
    so that a change shared by every seed stands out from seed noise; the
    title gives the mean delta and its 95% interval."""
    plt = _pyplot()
    names, seeds = table['names'], table['seeds']
    panels = [(group, column) for group in table['groups']
              for column in group['columns'][:3]]
    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(4.2 * columns, 3.6 * rows), squeeze=False)
    for axis, (group, column) in zip(axes.flat, panels):
        places = group.get('decimals', 1)
        for seed, a, b in zip(seeds, column['baseline'],
                              column['candidate']):
            if a is None or b is None:
                continue
            axis.plot([0, 1], [a, b], color='0.55', linewidth=1, zorder=1)
            axis.scatter([0, 1], [a, b], color=COLOURS, zorder=2)
            axis.annotate(f'seed {seed}', (1, b), xytext=(6, 0),
                          textcoords='offset points', va='center',
                          fontsize=8)
        stats = column.get('paired', {})
        title = f'{group["title"]} {column["name"]}'
        if stats.get('mean') is not None:
            title += f'\ndelta {stats["mean"]:+.{places}f}'
            if stats.get('ci95'):
                lo, hi = stats['ci95']
                title += f', 95% CI [{lo:+.{places}f}, {hi:+.{places}f}]'
        axis.set_title(title, fontsize=9)
        axis.set_xticks([0, 1])
        axis.set_xticklabels(names)
        axis.set_xlim(-0.3, 1.6)
        axis.grid(axis='y', alpha=0.3)
    for axis in list(axes.flat)[len(panels):]:
        axis.set_visible(False)
    _save(plt, figure, out_file,
          'Final metrics, one line per seed (same seed = same initial '
          'weights and data order)', fontsize=10)


def plot_sweep(sweep: dict, out_file: Path) -> None:
    """The shown metric against the swept value, both methods: each seed's
    run as a point, the mean as a line, and beneath it the paired delta with
    its 95% interval as a bar (none where no interval could be estimated)."""
    plt = _pyplot()
    rows, names, metric = sweep['rows'], sweep['names'], sweep['metric']
    positions = list(range(len(rows)))
    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(6.4, 6.2), sharex=True,
        gridspec_kw=dict(height_ratios=[3, 2]))
    for side, (name, colour) in enumerate(zip(names, COLOURS)):
        means = []
        for x, row in zip(positions, rows):
            values = [v for v in row['baseline' if side == 0 else
                                     'candidate'] if v is not None]
            # Side by side, so that the two methods' points do not overlap.
            top.scatter([x + (side - 0.5) * 0.12] * len(values), values,
                        color=colour, alpha=0.55, s=18, zorder=2)
            means.append(sum(values) / len(values) if values else None)
        top.plot(positions, means, color=colour, marker='o', label=name,
                 zorder=3)
    top.set_ylabel(f'{metric["title"]} {metric["name"]}')
    top.legend(fontsize=8)
    top.grid(alpha=0.3)
    for x, row in zip(positions, rows):
        stats = row['paired']
        if stats.get('mean') is None:
            continue
        if stats.get('ci95'):
            lo, hi = stats['ci95']
            bottom.errorbar([x], [stats['mean']],
                            yerr=[[stats['mean'] - lo], [hi - stats['mean']]],
                            fmt='o', color='black', capsize=4)
        else:
            bottom.plot([x], [stats['mean']], 'o', color='black')
        deltas = [d for d in row['delta'] if d is not None]
        bottom.scatter([x + 0.12] * len(deltas), deltas, color='0.5', s=12)
    bottom.axhline(0, color='0.4', linewidth=1)
    bottom.set_ylabel(f'delta ({names[1]} - {names[0]})')
    bottom.set_xticks(positions)
    bottom.set_xticklabels([row['text'] for row in rows])
    bottom.set_xlabel(sweep['key'])
    bottom.grid(alpha=0.3)
    _save(plt, figure, out_file,
          'Mean over seeds (line), each seed (points); below: the paired '
          'delta and its 95% interval', fontsize=9)


def gradient_keys(pairs: Sequence[Tuple[Run, Run]]) -> List[str]:
    """The GradientStatsHook scalars every run of the comparison logged."""
    runs = [r for pair in pairs for r in pair]
    logged = [{k for entry in r.gradients.values() for k in entry
               if k.startswith(('grad_max/', 'grad_l2/'))} for r in runs]
    return sorted(set.intersection(*logged)) if logged else []


def plot_gradients(pairs: Sequence[Tuple[Run, Run]], names: Sequence[str],
                   out_file: Path) -> bool:
    """The paper's Figure 4: per layer the largest absolute value and the L2
    norm of the gradient the update used, over training, baseline against
    GC, one line per seed. False (and no file) when the runs did not log
    them (GradientStatsHook)."""
    keys = gradient_keys(pairs)
    if not keys:
        return False
    plt = _pyplot()
    layers = sorted({k.split('/', 1)[1] for k in keys})
    figure, axes = plt.subplots(len(layers), 2,
                                figsize=(9.6, 3.2 * len(layers)),
                                squeeze=False)
    for row, layer in enumerate(layers):
        for col, kind in enumerate(('grad_max', 'grad_l2')):
            axis, key = axes[row][col], f'{kind}/{layer}'
            for pair in pairs:
                for run, colour, name in zip(pair, COLOURS, names):
                    steps = sorted(s for s, e in run.gradients.items()
                                   if key in e)
                    axis.plot(steps, [run.gradients[s][key] for s in steps],
                              color=colour, alpha=0.7, linewidth=1,
                              label=name if run is pairs[0][0]
                              or run is pairs[0][1] else None)
            axis.set_title(f'{layer}: '
                           f'{"max |g|" if kind == "grad_max" else "||g||_2"}',
                           fontsize=9)
            axis.set_xlabel('iteration')
            axis.set_yscale('log')
            axis.grid(alpha=0.3)
            axis.legend(fontsize=8)
    _save(plt, figure, out_file,
          'Gradient the update used (after GC in the GC run), one line per '
          'seed', fontsize=10)
    return True
