"""tools/compare.py --out STEM: the table the documentation includes, with the
command and the machine (STEM.md), and the numbers with per-seed values,
intervals and run times (STEM.json); on the mmengine-only toy pair of
tests/_compare_toy.py, trained with two seeds in seconds."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.tools]

REPO_ROOT = Path(__file__).resolve().parents[1]
TWIN = """_base_ = './toy_sgd.py'
optim_wrapper = dict(optimizer=dict(type='SGD_GC'))
"""


def compare(*args) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS='1',
               PYTHONPATH=str(REPO_ROOT / 'tests'))
    result = subprocess.run(
        [sys.executable, 'tools/compare.py', *map(str, args)], cwd=REPO_ROOT,
        env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr)
    return result


@pytest.fixture(scope='module')
def result_files(tmp_path_factory):
    from _compare_toy import BASELINE_CONFIG
    configs = tmp_path_factory.mktemp('configs')
    (configs / 'toy_sgd.py').write_text(BASELINE_CONFIG)
    (configs / 'toy_sgd_gc.py').write_text(TWIN)
    work_dir = tmp_path_factory.mktemp('compare')
    stem = work_dir / 'docs' / 'compare_toy'
    result = compare(configs / 'toy_sgd.py', configs / 'toy_sgd_gc.py',
                     '--seeds', '0', '1', '--jobs', '2', '--work-dir',
                     work_dir, '--out', stem)
    return work_dir, stem, result.stdout


def test_out_writes_the_table_with_command_and_machine(result_files):
    work_dir, stem, stdout = result_files
    markdown = stem.with_suffix('.md').read_text()
    assert markdown.startswith('**w/o GC vs w/ GC: toy_sgd and toy_sgd_gc, '
                               '2 seed(s).** Produced by `python tools/'
                               'compare.py ')
    assert f'--out {stem}' in markdown
    assert 'torch ' in markdown and 'cores' in markdown
    # The table as printed, with the paired interval and verdict, and the
    # seed-by-seed values.
    assert 'Paired by seed (2 seeds: 0, 1)' in markdown
    assert '95% confidence interval (Student t, df 1)' in markdown
    assert '  seed 1: ' in markdown
    assert 'Wall time per run, from the runs\' logs: ' in markdown
    assert f'{stem}.md' in stdout


def test_out_json_carries_per_seed_values_intervals_and_run_times(
        result_files):
    work_dir, stem, _ = result_files
    saved = json.loads(stem.with_suffix('.json').read_text())
    assert saved['command'].startswith('python tools/compare.py ')
    results = saved['results']
    assert results['seeds'] == [0, 1]
    table = json.loads((work_dir / 'comparison.json').read_text())
    assert results['groups'] == table['groups']
    accuracy, loss = results['groups'][0]['columns']
    assert len(accuracy['baseline']) == len(accuracy['candidate']) == 2
    # The loss: the toy's accuracy may change alike on both seeds, which
    # gives no interval.
    assert loss['key'] == 'toy/loss'
    assert loss['paired']['n'] == 2 and len(loss['paired']['ci95']) == 2
    times = results['run_times']
    assert sorted((t['name'], t['seed']) for t in times) == [
        ('w/ GC', 0), ('w/ GC', 1), ('w/o GC', 0), ('w/o GC', 1)]
    assert all(t['wall_seconds'] is not None and t['wall_seconds'] >= 0
               for t in times)


def test_out_from_finished_runs_rereads_them_without_training(
        result_files, tmp_path):
    work_dir, _, _ = result_files
    stem = tmp_path / 'again'
    compare(work_dir / 'toy_sgd' / 'seed_0', work_dir / 'toy_sgd_gc' / 'seed_0',
            '--work-dir', tmp_path / 'table', '--out', stem)
    saved = json.loads(stem.with_suffix('.json').read_text())
    assert saved['results']['seeds'] == [0]
    assert 'no interval can be given with one seed' in (
        stem.with_suffix('.md').read_text())
