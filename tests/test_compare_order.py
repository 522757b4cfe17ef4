"""tools/compare.py on pairs it must not tabulate as given: configs or
finished work dirs in the wrong order (GC first), no GC on either side, GC on
both; and the verdicts of seeds that agree exactly or are too few. The tool
runs as its command line does (``main(argv)``: parsing, planning, the checks,
the table and its files), in this process to spare the imports a process
would repeat. The work dirs are made up here as tools/train.py and compare
leave them (a record of the resolved config or mmengine's dumped config, and
vis_data/scalars.json), so nothing trains."""
import json
import re
from pathlib import Path

import pytest

from _tools import load_tool

from mmgc.comparison.configs import (flat_config, load_resolved, run_record,
                                     with_seed, write_run_record)

pytestmark = [pytest.mark.tools, pytest.mark.fast]

REPO_ROOT = Path(__file__).resolve().parents[1]
TWIN = """_base_ = './toy_sgd.py'
optim_wrapper = dict(optimizer=dict(type='SGD_GC'))
"""


@pytest.fixture(scope='module')
def compare_main():
    return load_tool('compare').main


@pytest.fixture
def compare(compare_main, capsys):
    """``tools/compare.py ARGS``: (exit code, stdout, stderr)."""

    def run(*args):
        try:
            compare_main([str(arg) for arg in args])
            code = 0
        except SystemExit as exit_info:
            code = exit_info.code
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture(scope='module')
def configs(tmp_path_factory):
    from _compare_toy import BASELINE_CONFIG
    folder = tmp_path_factory.mktemp('configs')
    (folder / 'toy_sgd.py').write_text(BASELINE_CONFIG)
    (folder / 'toy_sgd_gc.py').write_text(TWIN)
    (folder / 'toy_sgd_gcc.py').write_text(TWIN.replace('SGD_GC', 'SGD_GCC'))
    return folder


def write_scalars(run_dir: Path, metrics: dict) -> None:
    """One session's vis_data/scalars.json: two iterations, one evaluation."""
    vis_data = run_dir / '20260101_000000' / 'vis_data'
    vis_data.mkdir(parents=True)
    lines = [dict(step=1, loss=1.2), dict(step=2, loss=1.1),
             dict(step=1, **metrics)]
    (vis_data / 'scalars.json').write_text(
        ''.join(json.dumps(line) + '\n' for line in lines))


def finished_side(root: Path, config: Path, metrics_by_seed: dict) -> Path:
    """seed_<N>/ folders of a compare, each with the record of the resolved
    config it was trained with."""
    flat = flat_config(load_resolved(config, []))
    for seed, metrics in metrics_by_seed.items():
        run_dir = root / f'seed_{seed}'
        write_scalars(run_dir, metrics)
        write_run_record(run_dir, run_record(config, [], seed, 1,
                                             with_seed(flat, seed)))
    return root


def table_json(tmp_path: Path) -> dict:
    return json.loads((tmp_path / 'table' / 'comparison.json').read_text())


def plain_work_dir(root: Path, config: Path, metrics: dict) -> Path:
    """A tools/train.py work dir: no record, only the config mmengine dumped
    (resolved, without _base_)."""
    write_scalars(root, metrics)
    load_resolved(config, []).dump(str(root / config.name))
    return root


def test_configs_in_the_wrong_order_are_refused_before_training(
        configs, compare, tmp_path):
    base, gc = configs / 'toy_sgd.py', configs / 'toy_sgd_gc.py'
    # Before: the SGD_GC runs were labelled "w/o GC" and the verdicts read
    # every change backwards.
    code, out, err = compare(gc, base, '--work-dir', tmp_path / 'out')
    assert code == 2, out[-2000:]
    assert (
        '[compare] refused: The sides are in the wrong order: the first '
        'argument is the baseline (without GC) and the second the GC side, '
        f"but the first, {gc} (optimizer 'SGD_GC'), applies GC and the "
        f"second, {base} (optimizer 'SGD'), does not.") in err
    assert f'Swap them: tools/compare.py {base} {gc} ...' in err
    assert not (tmp_path / 'out').exists()

    # An override that takes GC out of the twin leaves no GC side.
    code, _, err = compare(base, gc, '--work-dir', tmp_path / 'out',
                           '--cfg-options', 'optim_wrapper.optimizer.type=SGD')
    assert code == 2
    assert (f"refused: Neither side applies GC: {base} (optimizer 'SGD') and "
            f"{gc} (optimizer 'SGD')") in err
    assert not (tmp_path / 'out').exists()


def test_finished_work_dirs_in_the_wrong_order_are_refused(configs, compare,
                                                           tmp_path):
    metrics = {0: {'toy/accuracy': 70.0}}
    base = finished_side(tmp_path / 'sgd', configs / 'toy_sgd.py', metrics)
    gc = finished_side(tmp_path / 'sgd_gc', configs / 'toy_sgd_gc.py',
                       metrics)
    code, _, err = compare(gc, base, '--work-dir', tmp_path / 'table')
    assert code == 2
    assert (f"the first, {gc} (optimizer 'SGD_GC'), applies GC and the "
            f"second, {base} (optimizer 'SGD'), does not") in err
    assert not (tmp_path / 'table').exists()

    # A plain tools/train.py work dir: its dumped config tells.
    plain = plain_work_dir(tmp_path / 'plain_gc', configs / 'toy_sgd_gc.py',
                           {'toy/accuracy': 70.0})
    code, _, err = compare(plain, base / 'seed_0', '--work-dir',
                           tmp_path / 'table')
    assert code == 2
    assert f"the first, {plain} (optimizer 'SGD_GC'), applies GC" in err


def test_two_gc_variants_are_compared_only_under_given_names(
        configs, compare, tmp_path):
    metrics = {0: {'toy/accuracy': 70.0}}
    gc = finished_side(tmp_path / 'gc', configs / 'toy_sgd_gc.py', metrics)
    gcc = finished_side(tmp_path / 'gcc', configs / 'toy_sgd_gcc.py', metrics)
    code, _, err = compare(gc, gcc, '--work-dir', tmp_path / 'table')
    assert code == 2
    assert (f"refused: Both sides apply GC: {gc} (optimizer 'SGD_GC') and "
            f"{gcc} (optimizer 'SGD_GCC'), so the default labels") in err
    assert 'name the sides with --names' in err

    code, out, err = compare(gc, gcc, '--names', 'GC', 'GCC', '--work-dir',
                             tmp_path / 'table')
    assert code == 0, err
    note = (f"both sides apply GC: {gc} (optimizer 'SGD_GC') and {gcc} "
            "(optimizer 'SGD_GCC'); compared under the labels given by "
            '--names')
    assert f'[compare] warning: {note}' in out
    assert f'\nsides: {note}\n' in out
    table = table_json(tmp_path)
    assert table['names'] == ['GC', 'GCC']
    assert table['gc_sides']['note'] == note
    assert (table['gc_sides']['baseline']['applies_gc'],
            table['gc_sides']['candidate']['applies_gc']) == (True, True)


def test_seeds_that_agree_exactly_or_are_two_resolve_nothing(
        configs, compare, tmp_path):
    base = finished_side(tmp_path / 'sgd', configs / 'toy_sgd.py', {
        0: {'toy/accuracy': 70.0, 'toy/loss': 1.00},
        1: {'toy/accuracy': 71.0, 'toy/loss': 1.10}})
    gc = finished_side(tmp_path / 'sgd_gc', configs / 'toy_sgd_gc.py', {
        0: {'toy/accuracy': 72.0, 'toy/loss': 0.50},
        1: {'toy/accuracy': 73.0, 'toy/loss': 0.58}})
    code, out, err = compare(base, gc, '--work-dir', tmp_path / 'table')
    assert code == 0, err
    # Before: +2.0 on both seeds gave the interval [+2.0, +2.0] and "GC
    # higher (better)"; the loss's [-0.64, -0.38] on two seeds "GC lower".
    assert re.search(r'^  toy/accuracy\s+\+2\.0\s+n/a\s+2/2\s+the 2 seeds '
                     r'agree exactly: no interval can be estimated$', out,
                     re.M), out
    assert re.search(r'^  toy/loss\s+-0\.5\s+\[-0\.6, -0\.4\]\s+2/2\s+not '
                     r'resolved with 2 seeds: the interval excludes 0, but a '
                     r'direction needs 3 or more seeds$', out, re.M), out
    assert 'GC higher' not in out and 'GC lower' not in out
    table = table_json(tmp_path)
    accuracy, loss = (column['paired']
                      for column in table['groups'][0]['columns'])
    assert accuracy['ci95'] is None and accuracy['sd'] == 0.0
    assert accuracy['resolved'] is False and loss['resolved'] is False
    assert loss['ci95'][1] < 0
    # The sides were told apart and in order: the header has no note.
    assert '\nsides: ' not in out
    assert table['gc_sides']['checked'] is True
