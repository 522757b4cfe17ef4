"""The comparison table: runs paired by seed, mean ± std over seeds and the
paired change from the baseline, in the paper's format, and below each block
the paired statistics of every metric (:mod:`.stats`).

:func:`build_table` turns paired runs into numbers (a JSON-able dict, written
to ``comparison.json``); :func:`format_table` prints them as text or
markdown, one block per metric set; :func:`format_per_seed` lists the main
metric seed by seed.
"""
import math
import re
from typing import Dict, List, Optional, Sequence, Tuple

from .runs import METRIC_SETS, Run
from .stats import lower_is_better, paired_stats

#: A group of columns: (title, [(metric key, column name)], display scale,
#: heading).
Group = Tuple[str, List[Tuple[str, str]], float, str]


def metric_columns(runs: Sequence[Run],
                   requested: Optional[Sequence[str]] = None) -> List[Group]:
    """Groups to show: (title, [(key, column)], display scale, heading).

    Known sets (COCO box, COCO mask, ReID, classification) are used when
    their first key was logged by every run; with ``requested`` keys,
    exactly those are shown.
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


def scaled(value: float, scale: float) -> Optional[float]:
    """``value`` in the table's unit; None for COCOeval's -1 (an area range
    without ground truth)."""
    return None if value < 0 else value * scale


def mean_std(values: Sequence[Optional[float]]
             ) -> Tuple[Optional[float], Optional[float]]:
    """Mean and sample standard deviation (n - 1); std is None for one
    value, both are None when any value is missing."""
    if any(v is None for v in values):
        return None, None
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, None
    variance = sum((v - mean)**2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(variance)


def format_cell(mean: Optional[float], std: Optional[float],
                signed: bool = False, decimals: int = 1) -> str:
    """``mean±std`` as the paper prints it; ``n/a`` without a mean."""
    if mean is None:
        return 'n/a'
    text = f'{mean:+.{decimals}f}' if signed else f'{mean:.{decimals}f}'
    return text if std is None else f'{text}±{std:.{decimals}f}'


def _decimals(title: str) -> int:
    for spec in METRIC_SETS.values():
        if spec['title'] == title:
            return spec.get('decimals', 1)
    return 1


def unpaired_seeds(baseline: Sequence[Run],
                   candidate: Sequence[Run]) -> Dict[str, List[int]]:
    """Seeds that only one side has, by side ('baseline', 'candidate'); such
    runs are left out of the table. Empty when the seeds are unknown."""
    seeds_a = [r.seed for r in baseline]
    seeds_b = [r.seed for r in candidate]
    if None in seeds_a or None in seeds_b:
        return {}
    missing = dict(baseline=[s for s in seeds_a if s not in seeds_b],
                   candidate=[s for s in seeds_b if s not in seeds_a])
    return {side: seeds for side, seeds in missing.items() if seeds}


def pair_by_seed(baseline: Sequence[Run],
                 candidate: Sequence[Run]) -> List[Tuple[Run, Run]]:
    """(baseline, candidate) runs with the same seed, in the baseline's
    order. Runs of unknown seed are paired in order when both sides have as
    many."""
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


def check_seed_pairs(pairs: Sequence[Tuple[Run, Run]],
                     names: Sequence[str]) -> dict:
    """Whether each pair really shares its seed: the seed its folder names
    and the seed each run's config recorded must all agree. Returns
    ``dict(checked=..., note=...)``; a mismatch is an error, since the pair
    would then not share initial weights and data order."""
    wrong = []
    for pair in pairs:
        recorded = [run.recorded_seed for run in pair]
        for name, run in zip(names, pair):
            if None not in (run.seed, run.recorded_seed) and (
                    run.seed != run.recorded_seed):
                wrong.append(f'{name} {run.path} is filed as seed '
                             f'{run.seed} but was trained with seed '
                             f'{run.recorded_seed}')
        if None not in recorded and recorded[0] != recorded[1]:
            wrong.append(f'{pair[0].path} ({names[0]}) was trained with '
                         f'seed {recorded[0]}, {pair[1].path} ({names[1]}) '
                         f'with seed {recorded[1]}')
    if wrong:
        raise ValueError(
            'These runs are not paired by seed: ' + '; '.join(wrong) +
            '. Train them again with the seeds of their folders (delete the '
            'folders and rerun tools/compare.py with --seeds).')
    seeds = [a.seed for a, _ in pairs]
    if None in seeds:
        return dict(checked=False, note=(
            'the runs\' seeds are unknown, so they are paired in the order '
            'given; the pairs need not share initial weights or data order'))
    if all(run.recorded_seed is not None for pair in pairs for run in pair):
        return dict(checked=True, note=(
            'each pair shares its seed (checked in both runs\' configs): '
            'the same initial weights and data order'))
    return dict(checked=False, note=(
        'pairs by seed as their folders name it; the runs\' configs do not '
        'record the seed, so that both runs of a pair used it is not '
        'checked'))


def _subject(names: Sequence[str]) -> str:
    """The candidate as verdicts name it: 'GC' for 'w/ GC'."""
    return re.sub(r'^w/\s*', '', names[1]) or names[1]


def build_table(pairs: List[Tuple[Run, Run]], names: Sequence[str],
                requested: Optional[Sequence[str]] = None) -> dict:
    """Numbers of the comparison: per method and per seed, with deltas and
    their paired statistics."""
    runs = [r for pair in pairs for r in pair]
    groups = metric_columns(runs, requested)
    table = dict(
        names=list(names),
        seeds=[a.seed for a, _ in pairs],
        pairing=check_seed_pairs(pairs, names),
        final_epochs=dict(
            baseline=[a.final_epoch for a, _ in pairs],
            candidate=[b.final_epoch for _, b in pairs]),
        groups=[])
    for title, columns, scale, heading in groups:
        group = dict(title=title, heading=heading, scale=scale,
                     decimals=_decimals(title), columns=[])
        for key, column in columns:
            a = [scaled(pair[0].final_metrics[key], scale) for pair in pairs]
            b = [scaled(pair[1].final_metrics[key], scale) for pair in pairs]
            delta = [
                None if x is None or y is None else y - x
                for x, y in zip(a, b)
            ]
            group['columns'].append(
                dict(key=key, name=column, baseline=a, candidate=b,
                     delta=delta,
                     paired=paired_stats(
                         delta, _subject(names),
                         higher_is_better=not lower_is_better(key))))
        table['groups'].append(group)
    return table


def format_table(table: dict, markdown: bool = False,
                 paired: bool = True) -> str:
    """One block per metric set (box, mask, ...), rows as in the paper;
    with ``paired``, each followed by its paired statistics."""
    names = table['names']
    blocks = []
    for group in table['groups']:
        rows = [['Method'], [names[0]], [names[1]], ['delta']]
        places = group.get('decimals', 1)
        for column in group['columns']:
            rows[0].append(column['name'])
            rows[1].append(
                format_cell(*mean_std(column['baseline']), decimals=places))
            rows[2].append(
                format_cell(*mean_std(column['candidate']), decimals=places))
            rows[3].append(
                format_cell(*mean_std(column['delta']), signed=True,
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
        if paired and 'paired' in group['columns'][0]:
            lines += [''] + format_paired(table, group, markdown)
        blocks.append('\n'.join(lines))
    return '\n\n'.join(blocks)


def _interval(paired: dict, places: int) -> str:
    if paired['ci95'] is None:
        return 'n/a'
    lo, hi = paired['ci95']
    return f'[{lo:+.{places}f}, {hi:+.{places}f}]'


def format_paired(table: dict, group: dict,
                  markdown: bool = False) -> List[str]:
    """Lines under a group's table: per metric the mean paired delta, its
    95% confidence interval and the verdict; with one seed, that no interval
    can be given."""
    names, seeds = table['names'], table['seeds']
    places = group.get('decimals', 1)
    n = len(seeds)
    if None in seeds:
        which = f'{n} pair' + ('s' if n > 1 else '') + ' of unknown seed'
    else:
        which = (f'{n} seed' + ('s' if n > 1 else '') + ': ' +
                 ', '.join(str(s) for s in seeds))
    if n < 2:
        return [f'Paired by seed ({which}): no interval can be given with '
                'one seed; train with several (--seeds 0 1 2) for a 95% '
                'confidence interval of the change.']
    subject = _subject(names)
    intro = (f'Paired by seed ({which}): delta = '
             f'{names[1]} - {names[0]} per seed; mean, 95% confidence '
             f'interval (Student t, df {n - 1}), on how many seeds '
             f'{subject} did better, verdict')
    rows = []
    for column in group['columns']:
        stats = column['paired']
        mean = ('n/a' if stats['mean'] is None else
                f'{stats["mean"]:+.{places}f}')
        better = ('n/a' if stats.get('seeds_better') is None else
                  f'{stats["seeds_better"]}/{n}')
        rows.append([column['name'], mean, _interval(stats, places),
                     better, stats['verdict']])
    if markdown:
        return [intro, '',
                f'| Metric | delta | 95% CI | {subject} better | verdict |',
                '|---|---:|---:|---:|---|'] + [
                    '| ' + ' | '.join(row) + ' |' for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return [intro + ':'] + [
        '  ' + '  '.join([row[0].ljust(widths[0]), row[1].rjust(widths[1]),
                          row[2].rjust(widths[2]), row[3].rjust(widths[3]),
                          row[4]]) for row in rows]


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
