"""tools/compare.py end to end on a pair small enough to train in seconds with
mmengine alone (tests/_compare_toy.py): seeds that add up, the paired
statistics of a real two-seed comparison, the files --out writes for the
documentation, and the refusals that keep a comparison from misleading (a
seed in --cfg-options, a run folder trained with another config, a "twin"
that changes more than GC, finished runs given GC first). One two-seed
comparison serves them all."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.tools]

REPO_ROOT = Path(__file__).resolve().parents[1]
TESTS_DIR = REPO_ROOT / 'tests'
TWIN = """_base_ = './toy_sgd.py'
optim_wrapper = dict(optimizer=dict(type='SGD_GC'))
"""
# A "twin" that is also wider, with another batch size and learning rate.
WIDE_TWIN = """_base_ = './toy_sgd.py'
model = dict(width=16)
train_dataloader = dict(batch_size=8)
optim_wrapper = dict(optimizer=dict(type='SGD_GC', lr=0.2))
"""


def compare(*args, check=True) -> subprocess.CompletedProcess:
    """tools/compare.py from the repository root; the toy's module is
    importable by the training processes, one thread each."""
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(TESTS_DIR))
    result = subprocess.run(
        [sys.executable, 'tools/compare.py', *map(str, args)], cwd=REPO_ROOT,
        env=env, capture_output=True, text=True, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f'compare exited with {result.returncode}:\n'
                             f'{result.stdout[-3000:]}\n{result.stderr}')
    return result


@pytest.fixture(scope='module')
def configs(tmp_path_factory):
    from _compare_toy import BASELINE_CONFIG
    folder = tmp_path_factory.mktemp('configs')
    for name, text in (('toy_sgd.py', BASELINE_CONFIG),
                       ('toy_sgd_gc.py', TWIN),
                       ('toy_sgd_gc_wide.py', WIDE_TWIN)):
        (folder / name).write_text(text)
    return folder


@pytest.fixture(scope='module')
def two_seeds(configs, tmp_path_factory):
    """The pair trained with seeds 0 and 1, given as --seeds 0 --seeds 1 0,
    and the files --out STEM writes for the documentation."""
    work_dir = tmp_path_factory.mktemp('compare')
    stem = tmp_path_factory.mktemp('docs') / 'compare_toy'
    result = compare(configs / 'toy_sgd.py', configs / 'toy_sgd_gc.py',
                     '--seeds', '0', '--seeds', '1', '0', '--jobs', '2',
                     '--work-dir', work_dir, '--out', stem)
    return work_dir, result.stdout, stem


def test_repeated_seeds_add_up_and_the_pairs_get_paired_statistics(
        two_seeds):
    work_dir, stdout, _ = two_seeds
    # Before: the last --seeds won, and only seeds [1, 0] trained.
    assert '4 training run(s) to do or reuse, seeds [0, 1]' in stdout
    table = json.loads((work_dir / 'comparison.json').read_text())
    assert table['seeds'] == [0, 1]
    # Each run recorded what it was trained with, its own seed included.
    for name in ('toy_sgd', 'toy_sgd_gc'):
        for seed in (0, 1):
            record = json.loads(
                (work_dir / name / f'seed_{seed}' /
                 'compare_run.json').read_text())
            assert record['seed'] == seed
            assert record['resolved_config']['randomness.seed'] == seed
    assert table['pairing']['checked'] is True
    assert ('pairs: each pair shares its seed (checked in both runs\' '
            'configs): the same initial weights and data order') in stdout
    assert table['twin_check'] == dict(
        checked=True, differences=[],
        note="the GC side differs from the baseline only in the optimizer's "
        'type and GC options')

    columns = {c['key']: c for c in table['groups'][0]['columns']}
    assert list(columns) == ['toy/accuracy', 'toy/loss']
    for column in columns.values():
        paired = column['paired']
        assert paired['deltas'] == column['delta'] and paired['n'] == 2
        assert paired['df'] == 1
        assert paired['resolved'] is False  # never on two seeds
        if paired['deltas'][0] == paired['deltas'][1]:
            # The toy's accuracy moves in steps of 1/32, so both seeds may
            # change it alike: no interval then.
            assert paired['ci95'] is None
            assert paired['verdict'] == ('the 2 seeds agree exactly: no '
                                         'interval can be estimated')
            continue
        assert paired['t_quantile'] == pytest.approx(12.706205, abs=1e-6)
        lo, hi = paired['ci95']
        assert lo <= paired['mean'] <= hi
        assert 'Student t' in paired['test']
    assert columns['toy/loss']['paired']['better'] == 'lower'
    assert columns['toy/accuracy']['paired']['better'] == 'higher'
    assert ('Paired by seed (2 seeds: 0, 1): delta = w/ GC - w/o GC per '
            'seed; mean, 95% confidence interval (Student t, df 1), on how '
            'many seeds GC did better, verdict:') in stdout
    # Two seeds name no direction, whatever their interval.
    assert re.search(r'^  toy/loss\s+[-+]\d\.\d\s+\[[-+]\d\.\d, [-+]\d\.\d\]'
                     r'\s+[012]/2\s+(not resolved with 2 seeds: the interval '
                     r'excludes 0, but a direction needs 3 or more seeds|no '
                     r'difference resolved with 2 seeds)$', stdout, re.M)
    markdown = (work_dir / 'comparison.md').read_text()
    assert '| Metric | delta | 95% CI | GC better | verdict |' in markdown
    for png in ('loss_curves.png', 'metrics_per_epoch.png',
                'paired_seeds.png'):
        assert (work_dir / png).read_bytes()[:4] == b'\x89PNG'


def test_a_seed_in_cfg_options_is_refused(configs, tmp_path):
    result = compare(configs / 'toy_sgd.py', configs / 'toy_sgd_gc.py',
                     '--seeds', '0', '1', '--work-dir', tmp_path / 'out',
                     '--cfg-options', 'randomness.seed=5', check=False)
    assert result.returncode == 2
    assert ('--cfg-options randomness.seed=5 sets the seed, but each run of '
            'a comparison is trained with its own seed from --seeds'
            ) in result.stderr
    assert not (tmp_path / 'out').exists()


def test_a_folder_trained_with_other_cfg_options_is_refused(configs,
                                                            two_seeds):
    work_dir, _, _ = two_seeds
    before = (work_dir / 'comparison.md').read_text()
    result = compare(configs / 'toy_sgd.py', configs / 'toy_sgd_gc.py',
                     '--seeds', '0', '1', '--work-dir', work_dir,
                     '--cfg-options', 'optim_wrapper.optimizer.lr=0.5',
                     check=False)
    assert result.returncode == 2
    assert 'reusing it' not in result.stdout
    for name in ('toy_sgd', 'toy_sgd_gc'):
        for seed in (0, 1):
            assert (f'{work_dir / name / f"seed_{seed}"}: '
                    'optim_wrapper.optimizer.lr: 0.1 -> 0.5') in result.stderr
    assert ('Use another --work-dir for this configuration, or delete these '
            'folders to train them again.') in result.stderr
    # The table of the runs that are there is left as it was.
    assert (work_dir / 'comparison.md').read_text() == before


def test_the_same_config_reuses_finished_runs_and_resumes_interrupted_ones(
        configs, two_seeds, tmp_path):
    work_dir = tmp_path / 'compare'
    shutil.copytree(two_seeds[0], work_dir)
    # Seed 1 of the baseline killed during epoch 2: its epoch-1 checkpoint
    # is the last one, and epoch 2 was never evaluated.
    run_dir = work_dir / 'toy_sgd' / 'seed_1'
    (run_dir / 'epoch_2.pth').unlink()
    (run_dir / 'last_checkpoint').write_text(str(run_dir / 'epoch_1.pth'))
    scalars, = run_dir.glob('*/vis_data/scalars.json')
    scalars.write_text(''.join(
        line + '\n' for line in scalars.read_text().splitlines()
        if not (json.loads(line)['step'] == 2
                and 'toy/accuracy' in json.loads(line))))
    # An earlier compare kept no record: the command it logged tells.
    (work_dir / 'toy_sgd_gc' / 'seed_0' / 'compare_run.json').unlink()

    refused = compare(configs / 'toy_sgd.py', configs / 'toy_sgd_gc.py',
                      '--seeds', '0', '1', '--work-dir', work_dir,
                      '--cfg-options', 'train_cfg.max_epochs=3', check=False)
    assert refused.returncode == 2
    for seed in (0, 1):
        assert (f'{work_dir / "toy_sgd" / f"seed_{seed}"}: '
                'train_cfg.max_epochs: 2 -> 3 (recorded in') in refused.stderr
    assert (f'{work_dir / "toy_sgd_gc" / "seed_0"}: --cfg-options '
            'train_cfg.max_epochs: (not given) -> 3 (from the command in'
            ) in refused.stderr

    result = compare(configs / 'toy_sgd.py', configs / 'toy_sgd_gc.py',
                     '--seeds', '0', '1', '--work-dir', work_dir)
    assert result.stdout.count('finished run found') == 3
    assert (f'w/o GC seed 1: resuming the interrupted run in {run_dir}'
            ) in result.stdout
    assert 'w/o GC seed 1: epoch 2 evaluated' in result.stdout
    table = json.loads((work_dir / 'comparison.json').read_text())
    assert table['final_epochs'] == dict(baseline=[2, 2], candidate=[2, 2])


def test_a_twin_that_changes_more_than_gc_is_named_or_refused(
        configs, two_seeds, tmp_path):
    strict = compare(configs / 'toy_sgd.py', configs / 'toy_sgd_gc_wide.py',
                     '--strict-twin', '--work-dir', tmp_path / 'strict',
                     check=False)
    assert strict.returncode == 2
    listing = ('  model.width: 8 -> 16\n'
               '  optim_wrapper.optimizer.lr: 0.1 -> 0.2\n'
               '  train_dataloader.batch_size: 16 -> 8\n')
    assert ('--strict-twin: ' + str(configs / 'toy_sgd_gc_wide.py') +
            ' is not a GC-only twin of ' + str(configs / 'toy_sgd.py') +
            '; besides GC it changes:\n' + listing) in strict.stderr
    assert not (tmp_path / 'strict').exists()

    # Without --strict-twin: a warning before training, and the same in the
    # table's files. (The baseline side is the finished runs' work dir: its
    # record is what it was trained with.)
    work_dir = tmp_path / 'warned'
    result = compare(two_seeds[0] / 'toy_sgd', configs / 'toy_sgd_gc_wide.py',
                     '--work-dir', work_dir)
    warning = result.stdout.index(
        '[compare] warning: w/ GC is not a GC-only twin of w/o GC; besides '
        'GC it changes:\n' + listing)
    assert warning < result.stdout.index('w/ GC seed 0: training')
    note = ('besides GC, w/ GC changes: model.width: 8 -> 16; '
            'optim_wrapper.optimizer.lr: 0.1 -> 0.2; '
            'train_dataloader.batch_size: 16 -> 8')
    assert f'WARNING, twin: {note}' in (work_dir / 'comparison.md').read_text()
    table = json.loads((work_dir / 'comparison.json').read_text())
    assert table['twin_check']['note'] == note
    assert table['twin_check']['differences'][0] == dict(
        key='model.width', baseline=8, candidate=16)
    # One seed here: the table says that no interval can be given.
    assert ('Paired by seed (1 seed: 0): no interval can be given with one '
            'seed') in result.stdout


def test_finished_runs_given_gc_first_are_refused(two_seeds, tmp_path):
    work_dir, _, _ = two_seeds
    base = work_dir / 'toy_sgd'
    # The GC side as a plain tools/train.py work dir: no record, only the
    # config mmengine dumped into it. (Recorded work dirs:
    # tests/test_compare_order.py.)
    gc = tmp_path / 'toy_sgd_gc_plain'
    shutil.copytree(work_dir / 'toy_sgd_gc' / 'seed_0', gc)
    (gc / 'compare_run.json').unlink()
    result = compare(gc, base, '--work-dir', tmp_path / 'table', check=False)
    assert result.returncode == 2
    assert ('The sides are in the wrong order: the first argument is the '
            'baseline (without GC) and the second the GC side, but the '
            f"first, {gc} (optimizer 'SGD_GC'), applies GC and the second, "
            f"{base} (optimizer 'SGD'), does not.") in result.stderr
    assert f'Swap them: tools/compare.py {base} {gc} ...' in result.stderr
    assert not (tmp_path / 'table').exists()


# --------------------------------------------------------------------------
# --out STEM: the table the documentation includes, with the command and
# the machine (STEM.md), and the numbers with per-seed values, intervals and
# run times (STEM.json)
# --------------------------------------------------------------------------
def test_out_writes_the_table_with_command_and_machine(two_seeds):
    _, stdout, stem = two_seeds
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
    # The figures the page shows beside the table.
    for name in ('loss', 'metrics', 'paired'):
        figure = Path(f'{stem}_{name}.png')
        assert figure.read_bytes()[:4] == b'\x89PNG', figure
        assert str(figure) in stdout


def test_out_json_carries_per_seed_values_intervals_and_run_times(
        two_seeds):
    work_dir, _, stem = two_seeds
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
        two_seeds, tmp_path):
    work_dir, _, _ = two_seeds
    stem = tmp_path / 'again'
    compare(work_dir / 'toy_sgd' / 'seed_0', work_dir / 'toy_sgd_gc' / 'seed_0',
            '--work-dir', tmp_path / 'table', '--out', stem)
    saved = json.loads(stem.with_suffix('.json').read_text())
    assert saved['results']['seeds'] == [0]
    assert 'no interval can be given with one seed' in (
        stem.with_suffix('.md').read_text())
