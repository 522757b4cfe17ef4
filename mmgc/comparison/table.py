"""The comparison table: runs paired by seed, mean ± std over seeds and the
paired change from the baseline, in the paper's format.

:func:`build_table` turns paired runs into numbers (a JSON-able dict, written
to ``comparison.json``); :func:`format_table` prints them as text or
markdown, one block per metric set; :func:`format_per_seed` lists the main
metric seed by seed.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple

from .runs import METRIC_SETS, Run

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
            a = [scaled(pair[0].final_metrics[key], scale) for pair in pairs]
            b = [scaled(pair[1].final_metrics[key], scale) for pair in pairs]
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
