"""GC's effect across a hyper-parameter: ``tools/compare.py --sweep``.

``--sweep KEY=V1,V2,...`` compares the pair at every value of one config key
(the paper's Tables 3 and 4: weight decays, learning rates). Every value
trains with the same seeds, and a seed fixes the initial weights and the
data order whatever the value, so each row's deltas are paired exactly as a
single comparison's are. The result is one table in the layout of those
tables: a row per value with both methods (mean ± std over seeds), the
paired delta, its 95% interval, on how many seeds GC did better and the
verdict (:mod:`.stats`).

This module checks the spec (:func:`parse_sweep`, :func:`check_sweep_key`)
and turns the per-value tables into the sweep's (:func:`sweep_table`,
:func:`format_sweep`); ``tools/compare.py`` trains.
"""
import difflib
import re
from typing import Dict, List, Optional, Sequence, Tuple

from .configs import parse_cfg_options
from .table import format_cell, mean_std

__all__ = ['parse_sweep', 'check_sweep_key', 'value_folder', 'sweep_table',
           'format_sweep']

# Characters a value's folder name keeps.
_SAFE = re.compile(r'[^A-Za-z0-9_.=+-]')


def parse_sweep(spec: str, cfg_options: Sequence[str] = ()
                ) -> Tuple[str, List[str], list]:
    """``(key, value texts, parsed values)`` of ``KEY=V1,V2,...``; a
    ValueError that says what is wrong with the spec and how to write it."""
    usage = ('write it as KEY=V1,V2,... (e.g. '
             '--sweep optim_wrapper.optimizer.weight_decay=0,1e-4,5e-4)')
    key, sep, values = spec.partition('=')
    key = key.strip()
    if not sep or not key:
        raise ValueError(f'--sweep {spec!r}: no KEY=; {usage}.')
    texts = [v.strip() for v in values.split(',')]
    if not values.strip() or any(not t for t in texts):
        raise ValueError(f'--sweep {spec!r}: the list of values is empty or '
                         f'has an empty entry; {usage}.')
    if len(set(texts)) != len(texts):
        raise ValueError(f'--sweep {spec!r}: a value is given twice.')
    if key == 'randomness.seed':
        raise ValueError('--sweep randomness.seed: seeds come from --seeds '
                         '(every value of a sweep trains with the same '
                         'seeds); sweep another key.')
    given = [o.split('=', 1)[0].strip() for o in cfg_options]
    if key in given:
        raise ValueError(f'--sweep {key} and --cfg-options {key}=... both '
                         'set it; leave it out of --cfg-options.')
    parsed = [parse_cfg_options([f'{key}={t}'])[key] for t in texts]
    return key, texts, parsed


def check_sweep_key(key: str, values: Sequence, flats: Sequence[Dict]) -> None:
    """The key must exist in both resolved configs (the closest keys are
    suggested), and where the config holds a number every value must be
    one."""
    for flat in flats:
        if key in flat:
            continue
        close = difflib.get_close_matches(key, list(flat), n=3, cutoff=0.6)
        hint = (f' Did you mean {", ".join(close)}?' if close else
                ' Sweep a key of the config, dotted as in --cfg-options '
                '(optim_wrapper.optimizer.lr).')
        raise ValueError(f'--sweep {key}: the resolved config has no such '
                         f'key.{hint}')
    current = flats[0][key]
    if isinstance(current, (int, float)) and not isinstance(current, bool):
        wrong = [v for v in values if isinstance(v, bool)
                 or not isinstance(v, (int, float))]
        if wrong:
            raise ValueError(
                f'--sweep {key}: the config has the number {current!r} '
                f'there, but {", ".join(repr(v) for v in wrong)} is not a '
                'number; write numbers as digits (1e-4, 0.1).')


def value_folder(key: str, text: str) -> str:
    """The folder of one value's runs: ``<key>=<value>``, made safe."""
    return _SAFE.sub('_', f'{key}={text}')


def _column(table: dict, metric: Optional[str]) -> Tuple[dict, dict]:
    """The column a sweep shows: ``metric``, or the first of the first
    group (top-1 accuracy, box AP, ReID mAP)."""
    for group in table['groups']:
        for column in group['columns']:
            if metric is None or column['key'] == metric:
                return group, column
    raise KeyError(f'metric {metric!r} is not in the comparison')


def sweep_table(key: str, texts: Sequence[str], values: Sequence,
                tables: Sequence[dict], metric: Optional[str] = None) -> dict:
    """The sweep's numbers: per value, the shown metric's per-seed values
    of both methods, the paired deltas and their statistics (JSON-able)."""
    rows = []
    shown = None
    for text, value, table in zip(texts, values, tables):
        group, column = _column(table, metric)
        shown = shown or dict(key=column['key'], name=column['name'],
                              title=group['title'],
                              decimals=group.get('decimals', 1))
        rows.append(dict(value=value, text=text, seeds=table['seeds'],
                         baseline=column['baseline'],
                         candidate=column['candidate'],
                         delta=column['delta'], paired=column['paired']))
    return dict(key=key, names=list(tables[0]['names']), metric=shown,
                rows=rows)


def format_sweep(sweep: dict, markdown: bool = False) -> str:
    """The paper's Table 3/4 layout: a row per value."""
    names, metric = sweep['names'], sweep['metric']
    places = metric['decimals']
    head = [sweep['key'], names[0], names[1], 'delta', '95% CI',
            'GC better', 'verdict']
    rows = []
    for row in sweep['rows']:
        stats = row['paired']
        ci = ('n/a' if stats.get('ci95') is None else
              '[{:+.{p}f}, {:+.{p}f}]'.format(*stats['ci95'], p=places))
        better = ('n/a' if stats.get('seeds_better') is None else
                  f'{stats["seeds_better"]}/{len(row["seeds"])}')
        rows.append([
            row['text'],
            format_cell(*mean_std(row['baseline']), decimals=places),
            format_cell(*mean_std(row['candidate']), decimals=places),
            ('n/a' if stats.get('mean') is None else
             f'{stats["mean"]:+.{places}f}'), ci, better, stats['verdict']
        ])
    seeds = sweep['rows'][0]['seeds'] if sweep['rows'] else []
    title = (f'{metric["title"]} {metric["name"]} at each {sweep["key"]} '
             f'(mean±std over seeds {seeds}; delta = {names[1]} - '
             f'{names[0]}, paired by seed; 95% CI: Student t)')
    if markdown:
        return '\n'.join([f'**{title}**', '', '| ' + ' | '.join(head) + ' |',
                          '|' + '|'.join(['---:'] * 6 + ['---']) + '|'] +
                         ['| ' + ' | '.join(r) + ' |' for r in rows])
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(6)]
    lines = [title, '  '.join(
        [h.rjust(w) for h, w in zip(head[:6], widths)] + [head[6]])]
    lines.append('-' * len(lines[-1]))
    lines += ['  '.join([c.rjust(w) for c, w in zip(r[:6], widths)] + [r[6]])
              for r in rows]
    return '\n'.join(lines)
