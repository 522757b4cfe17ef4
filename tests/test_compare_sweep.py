"""tools/compare.py --sweep: the pair at every value of a config key, with
the same seeds, tabulated in the layout of the paper's Tables 3 and 4.

A 1-epoch sweep over two learning rates and two seeds of the toy pair of
tests/_compare_toy.py runs through the tool's command line (a process, as a
user runs it); the bad specs are refused in this process, before anything
trains."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from _tools import load_tool

pytestmark = [pytest.mark.tools]

REPO_ROOT = Path(__file__).resolve().parents[1]
TESTS_DIR = REPO_ROOT / 'tests'
TWIN = """_base_ = './toy_sgd.py'
optim_wrapper = dict(optimizer=dict(type='SGD_GC'))
"""
KEY = 'optim_wrapper.optimizer.lr'


@pytest.fixture(scope='module')
def configs(tmp_path_factory):
    from _compare_toy import BASELINE_CONFIG
    folder = tmp_path_factory.mktemp('configs')
    (folder / 'toy_sgd.py').write_text(BASELINE_CONFIG)
    (folder / 'toy_sgd_gc.py').write_text(TWIN)
    return folder


def sweep(configs, work_dir, *extra) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(TESTS_DIR))
    result = subprocess.run(
        [sys.executable, 'tools/compare.py', str(configs / 'toy_sgd.py'),
         str(configs / 'toy_sgd_gc.py'), '--sweep', f'{KEY}=0.05,0.1',
         '--seeds', '0', '1', '--jobs', '2', '--cfg-options',
         'train_cfg.max_epochs=1', '--work-dir', str(work_dir), *extra],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr)
    return result


@pytest.fixture(scope='module')
def swept(configs, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('sweep')
    stem = work_dir / 'docs' / 'sweep_lr'
    result = sweep(configs, work_dir, '--out', stem)
    return work_dir, stem, result.stdout


def test_every_value_trains_the_pair_with_the_same_seeds(swept):
    work_dir, _, _ = swept
    for value in ('0.05', '0.1'):
        folder = work_dir / f'{KEY}={value}'
        for name in ('toy_sgd', 'toy_sgd_gc'):
            for seed in (0, 1):
                record = json.loads((folder / name / f'seed_{seed}' /
                                     'compare_run.json').read_text())
                resolved = record['resolved_config']
                assert resolved[KEY] == float(value)
                assert resolved['randomness.seed'] == seed
        # Each value is a comparison of its own, with its own files.
        assert (folder / 'comparison.json').is_file()


def test_the_table_has_a_row_per_value_in_the_papers_layout(swept):
    work_dir, _, stdout = swept
    data = json.loads((work_dir / 'sweep.json').read_text())
    assert data['key'] == KEY
    assert [row['text'] for row in data['rows']] == ['0.05', '0.1']
    assert data['metric']['key'] == 'toy/accuracy'
    for row in data['rows']:
        assert row['seeds'] == [0, 1]
        assert len(row['baseline']) == len(row['candidate']) == 2
        assert row['delta'] == [b - a for a, b in zip(row['baseline'],
                                                      row['candidate'])]
        # Two seeds never resolve a direction.
        assert row['paired']['resolved'] is False
    header = next(line for line in stdout.splitlines()
                  if line.strip().startswith(KEY))
    assert header.split()[1:6] == ['w/o', 'GC', 'w/', 'GC', 'delta']
    assert 'GC better' in header and 'verdict' in header
    rows = [line for line in stdout.splitlines()
            if line.strip().startswith(('0.05 ', '0.1 '))]
    assert len(rows) == 2 and all('/2' in row for row in rows)
    markdown = (work_dir / 'sweep.md').read_text()
    assert f'| {KEY} | w/o GC | w/ GC | delta | 95% CI |' in markdown
    assert (work_dir / 'sweep.png').stat().st_size > 10_000


def test_out_writes_the_page_and_its_figure(swept):
    _, stem, _ = swept
    page = stem.with_suffix('.md').read_text()
    assert 'at each optim_wrapper.optimizer.lr' in page
    assert '--sweep optim_wrapper.optimizer.lr=0.05,0.1' in page
    numbers = json.loads(stem.with_suffix('.json').read_text())['results']
    assert len(numbers['rows']) == 2 and len(numbers['run_times']) == 8
    assert Path(f'{stem}_sweep.png').stat().st_size > 10_000


def test_an_interrupted_sweep_retrains_only_what_did_not_finish(
        configs, swept, tmp_path):
    work_dir, _, _ = swept
    copy = tmp_path / 'sweep'
    shutil.copytree(work_dir, copy)
    # As if the sweep had stopped before the GC run of seed 1 at lr 0.1.
    shutil.rmtree(copy / f'{KEY}=0.1' / 'toy_sgd_gc' / 'seed_1')
    finished = {path: path.stat().st_mtime_ns
                for path in copy.rglob('epoch_1.pth')}
    assert len(finished) == 7
    stdout = sweep(configs, copy).stdout
    assert stdout.count('finished run found') == 7
    assert stdout.count('training ') >= 1
    for path, mtime in finished.items():
        assert path.stat().st_mtime_ns == mtime, path
    assert (copy / f'{KEY}=0.1' / 'toy_sgd_gc' / 'seed_1' /
            'epoch_1.pth').is_file()


# --------------------------------------------------------------------------
# Bad specs
# --------------------------------------------------------------------------
@pytest.fixture(scope='module')
def compare_main():
    return load_tool('compare').main


@pytest.mark.fast
@pytest.mark.parametrize('spec, extra, message', [
    ('optim_wrapper.optimizer.lrr=0.1,0.2', [],
     'the resolved config has no such key. Did you mean '
     'optim_wrapper.optimizer.lr'),
    ('optim_wrapper.optimizer.lr=', [], 'the list of values is empty'),
    ('optim_wrapper.optimizer.lr=0.1,,0.2', [], 'has an empty entry'),
    ('optim_wrapper.optimizer.lr=fast,slow', [],
     "the config has the number 0.1 there, but 'fast', 'slow' is not a "
     'number'),
    ('randomness.seed=0,1', [], 'seeds come from --seeds'),
    ('optim_wrapper.optimizer.lr=0.1,0.2',
     ['--cfg-options', 'optim_wrapper.optimizer.lr=0.3'],
     'both set it; leave it out of --cfg-options'),
    ('0.1,0.2', [], 'no KEY='),
])
def test_bad_specs_are_refused_before_anything_trains(
        compare_main, configs, tmp_path, capsys, spec, extra, message):
    with pytest.raises(SystemExit) as exit_info:
        compare_main([str(configs / 'toy_sgd.py'),
                      str(configs / 'toy_sgd_gc.py'), '--sweep', spec,
                      '--work-dir', str(tmp_path / 'runs'), *extra])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / 'runs').exists()
