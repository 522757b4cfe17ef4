"""mmgc.comparison on synthetic runs: work dirs with the vis_data/scalars.json
files and the log lines tools/train.py writes, made up here, so the reader,
the seed pairing, the paper-format table, the paired statistics and the
checks of what runs were trained with are tested without training.
(tests/test_compare_tool.py runs tools/compare.py on a tiny real pair.)"""
import importlib.util
import json
import re
import sys
import time
from pathlib import Path

import pytest

from _tools import load_tool

from mmgc.comparison import (build_table, check_cfg_options,
                             check_run_folder, find_runs, flat_config,
                             format_per_seed, format_table, lower_is_better,
                             mean_std, pair_by_seed, paired_stats,
                             plot_losses, plot_metrics, plot_paired, read_run,
                             t_quantile_975, twin_differences,
                             unpaired_seeds)
from mmgc.comparison.configs import (RUN_RECORD, GCUse, check_gc_sides,
                                     gc_base_type, gc_use, run_record,
                                     write_run_record)
from mmgc.comparison.stats import T_975
from mmgc.comparison.training import (TrainTask, collect_runs, plan_runs,
                                      report_progress)

pytestmark = [pytest.mark.tools, pytest.mark.fast]

NAMES = ['w/o GC', 'w/ GC']
COCO_BOX = ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/bbox_mAP_75',
            'coco/bbox_mAP_s', 'coco/bbox_mAP_m', 'coco/bbox_mAP_l')


def write_session(run_dir: Path, entries, timestamp='20260101_000000'):
    """One mmengine session of a run: <timestamp>/vis_data/scalars.json."""
    vis_data = run_dir / timestamp / 'vis_data'
    vis_data.mkdir(parents=True)
    (vis_data / 'scalars.json').write_text(
        ''.join(json.dumps(entry) + '\n' for entry in entries))
    return run_dir


def train_entries(first_loss=2.0, iterations=4):
    return [dict(step=i, lr=0.02, loss=first_loss - 0.1 * i,
                 loss_cls=1.0 - 0.05 * i) for i in range(1, iterations + 1)]


def write_compare_side(root: Path, final_metrics_by_seed: dict, epochs=2):
    """seed_<N>/ folders as tools/compare.py leaves them; the given metrics
    are logged at the last epoch, zeros before it."""
    for seed, metrics in final_metrics_by_seed.items():
        val = [dict(step=epoch, **{key: 0.0 for key in metrics})
               for epoch in range(1, epochs)]
        val.append(dict(step=epochs, **metrics))
        write_session(root / f'seed_{seed}', train_entries() + val)
    return root


def table_rows(text: str, heading: str) -> dict:
    """Row label -> cells of one block of the text table (cells are at least
    two spaces apart; a column name may hold one space)."""
    lines = text.splitlines()
    start = lines.index(heading)
    assert set(lines[start + 2]) == {'-'}
    rows = [re.split(r'\s{2,}', line.strip())
            for line in [lines[start + 1]] + lines[start + 3:start + 6]]
    assert [row[0] for row in rows] == ['Method'] + NAMES + ['delta']
    return {row[0]: row[1:] for row in rows}


# --------------------------------------------------------------------------
# Reading runs
# --------------------------------------------------------------------------
def test_read_run_joins_resumed_sessions_and_skips_blank_lines(tmp_path):
    run_dir = write_session(
        tmp_path / 'seed_3',
        train_entries(iterations=2) + [dict(step=1, **{'coco/bbox_mAP': .1})])
    # A resumed session: later iterations and epoch 2; iteration 2 again,
    # which the later session must win.
    write_session(run_dir, [dict(step=2, loss=0.5), dict(step=3, loss=0.4),
                            dict(step=2, **{'coco/bbox_mAP': .2,
                                            'coco/note': 'text'})],
                  timestamp='20260102_000000')
    scalars = run_dir / '20260102_000000' / 'vis_data' / 'scalars.json'
    scalars.write_text(scalars.read_text() + '\n  \n')
    (run_dir / 'not_a_session').mkdir()

    run = read_run(run_dir)
    assert run.seed == 3
    assert sorted(run.train) == [1, 2, 3]
    assert run.train[2]['loss'] == 0.5
    assert run.final_epoch == 2
    # Only numbers are metrics.
    assert run.final_metrics == {'coco/bbox_mAP': .2}


def test_seed_of_a_plain_train_work_dir_comes_from_its_dumped_config(
        tmp_path):
    run_dir = write_session(tmp_path / 'faster_gc',
                            [dict(step=1, **{'coco/bbox_mAP': .3})])
    (run_dir / 'faster_gc.py').write_text(
        "model = dict(type='FasterRCNN')\n"
        'randomness = dict(deterministic=False, seed=7)\n')
    assert read_run(run_dir).seed == 7
    (run_dir / 'faster_gc.py').write_text('randomness = dict(seed=None)\n')
    assert read_run(run_dir).seed is None


def test_classification_error_is_derived_from_accuracy(tmp_path):
    run = read_run(write_session(tmp_path / 'seed_0', [
        dict(step=1, **{'accuracy/top1': 76.25, 'accuracy/top5': 93.0}),
        # A logged error is kept as it is.
        dict(step=2, **{'accuracy/top1': 80.0, 'error/top1': 19.0}),
    ]))
    assert run.val[1]['error/top1'] == pytest.approx(23.75)
    assert run.val[1]['error/top5'] == pytest.approx(7.0)
    assert run.val[2]['error/top1'] == 19.0
    assert 'error/top5' not in run.val[2]


def test_find_runs_orders_seed_folders_and_skips_unevaluated_ones(tmp_path):
    side = write_compare_side(tmp_path / 'base', {
        10: {'reid/mAP': 70.0},
        2: {'reid/mAP': 71.0}
    })
    # Killed before its first evaluation: no metrics, not a finished run.
    write_session(side / 'seed_5', train_entries())
    (side / 'seed_x').mkdir()
    runs = find_runs(side)
    assert [run.seed for run in runs] == [2, 10]
    assert [run.path.name for run in runs] == ['seed_2', 'seed_10']

    # A single tools/train.py work dir is one run.
    single = write_session(tmp_path / 'single',
                           [dict(step=1, **{'reid/mAP': 1.0})])
    assert [run.path for run in find_runs(single)] == [single]


def test_find_runs_says_what_it_expected(tmp_path):
    with pytest.raises(FileNotFoundError,
                       match='neither a config file nor a work directory'):
        find_runs(tmp_path / 'missing')
    write_session(tmp_path / 'empty' / 'seed_0', train_entries())
    with pytest.raises(FileNotFoundError,
                       match=r'no finished evaluation.*val_interval'):
        find_runs(tmp_path / 'empty')


# --------------------------------------------------------------------------
# Pairing and statistics
# --------------------------------------------------------------------------
def test_runs_are_paired_by_seed_not_by_order(tmp_path):
    base = find_runs(write_compare_side(tmp_path / 'base', {
        0: {'reid/mAP': 70.0}, 1: {'reid/mAP': 71.0}, 2: {'reid/mAP': 72.0}
    }))
    gc = find_runs(write_compare_side(tmp_path / 'gc', {
        2: {'reid/mAP': 75.0}, 1: {'reid/mAP': 74.0}, 3: {'reid/mAP': 0.0}
    }))
    pairs = pair_by_seed(base, gc)
    assert [(a.seed, b.seed) for a, b in pairs] == [(1, 1), (2, 2)]
    assert unpaired_seeds(base, gc) == dict(baseline=[0], candidate=[3])
    assert unpaired_seeds(base, base) == {}
    table = build_table(pairs, NAMES)
    assert table['seeds'] == [1, 2]
    assert table['groups'][0]['columns'][0]['delta'] == [3.0, 3.0]


def test_missing_seeds_are_reported_clearly(tmp_path):
    base = find_runs(write_compare_side(tmp_path / 'base', {
        0: {'reid/mAP': 70.0}, 1: {'reid/mAP': 71.0}}))
    gc = find_runs(write_compare_side(tmp_path / 'gc', {
        5: {'reid/mAP': 75.0}}))
    with pytest.raises(ValueError,
                       match=r'share no seed \(baseline \[0, 1\], GC \[5\]\)'):
        pair_by_seed(base, gc)

    # Without seeds, runs pair in order, but only as many as on both sides.
    unknown = [read_run(write_session(tmp_path / f'plain{i}', [
        dict(step=1, **{'reid/mAP': 70.0 + i})])) for i in range(3)]
    assert all(run.seed is None for run in unknown)
    assert unpaired_seeds(unknown[:2], base) == {}
    assert pair_by_seed(unknown[:2], unknown[1:]) == [
        (unknown[0], unknown[1]), (unknown[1], unknown[2])]
    with pytest.raises(ValueError,
                       match='Cannot pair 2 baseline runs with 1 GC runs '
                       'whose seeds are unknown'):
        pair_by_seed(unknown[:2], unknown[2:])


def test_mean_std_is_the_sample_standard_deviation():
    mean, std = mean_std([1.0, 2.0, 4.0])
    assert mean == pytest.approx(7 / 3)
    # n - 1 in the denominator, as over seeds in the paper.
    assert std == pytest.approx(1.5275252316519468)
    assert mean_std([3.0]) == (3.0, None)
    assert mean_std([3.0, None]) == (None, None)


@pytest.fixture
def without_scipy(monkeypatch):
    """The t quantile from the built-in table, as without scipy."""
    monkeypatch.setitem(sys.modules, 'scipy', None)


def test_paired_stats_of_known_deltas(without_scipy):
    stats = paired_stats([1.0, 2.0, 3.0])
    assert stats['mean'] == 2.0 and stats['sd'] == pytest.approx(1.0)
    assert (stats['df'], stats['t_source']) == (2, 'table')
    assert stats['t_quantile'] == pytest.approx(4.302653, abs=1e-6)
    # 4.302653 * 1 / sqrt(3)
    assert stats['half_width'] == pytest.approx(2.484138, abs=1e-5)
    assert stats['ci95'] == pytest.approx([-0.484138, 4.484138], abs=1e-5)
    # The interval holds 0: three seeds do not tell the sign.
    assert stats['verdict'] == 'no difference resolved with 3 seeds'
    assert stats['deltas'] == [1.0, 2.0, 3.0]
    # One more unit everywhere: [0.52, 5.48], GC higher.
    stats = paired_stats([2.0, 3.0, 4.0])
    assert stats['ci95'] == pytest.approx([0.515862, 5.484138], abs=1e-5)
    assert stats['verdict'] == 'GC higher (better)'
    assert 'Student t' in stats['test']

    # By hand: mean 0.35; squared deviations .0225 + .2025 + .2025 + .0225
    # = .45, sd = sqrt(.45 / 3) = .387298; t_{0.975,3} = 3.182446;
    # half-width 3.182446 * .387298 / 2 = .616278.
    stats = paired_stats([0.5, -0.1, 0.8, 0.2])
    assert stats['mean'] == pytest.approx(0.35)
    assert stats['sd'] == pytest.approx(0.387298, abs=1e-6)
    assert stats['half_width'] == pytest.approx(0.616278, abs=1e-6)
    assert stats['ci95'] == pytest.approx([-0.266278, 0.966278], abs=1e-6)
    assert stats['verdict'] == 'no difference resolved with 4 seeds'
    # Three of the four seeds moved up, one down.
    assert stats['seeds_better'] == 3


def test_paired_verdicts_respect_metrics_where_lower_is_better():
    assert paired_stats([-2.0, -3.0, -4.0], higher_is_better=False)[
        'verdict'] == 'GC lower (better)'
    assert paired_stats([2.0, 3.0, 4.0], higher_is_better=False)[
        'verdict'] == 'GC higher (worse)'
    assert paired_stats([-2.0, -3.0, -4.0], subject='SGD_GC')[
        'verdict'] == 'SGD_GC lower (worse)'
    # A tie is not better; an error that falls is.
    assert paired_stats([0.0, 0.0])['seeds_better'] == 0
    assert paired_stats([-1.0, 0.5, -2.0], higher_is_better=False)[
        'seeds_better'] == 2
    for key in ('error/top1', 'error/top5', 'loss', 'val/loss_cls',
                'toy/loss', 'depth/rmse'):
        assert lower_is_better(key), key
    for key in ('accuracy/top1', 'coco/bbox_mAP', 'reid/R1', 'reid/mAP',
                'coverage/lossless_ratio'):
        assert not lower_is_better(key), key


def test_identical_deltas_give_no_interval_and_no_verdict_of_direction(
        without_scipy):
    # Before: a width-0 interval [2, 2] excluded 0, so two seeds read
    # "GC higher (better)".
    for deltas in ([2.0, 2.0], [0.0, 0.0], [-1.5, -1.5, -1.5]):
        stats = paired_stats(deltas)
        n = len(deltas)
        assert stats['verdict'] == (
            f'the {n} seeds agree exactly: no interval can be estimated')
        assert (stats['ci95'], stats['half_width'], stats['t_quantile']) == (
            None, None, None)
        assert stats['resolved'] is False
        assert (stats['mean'], stats['sd'], stats['df']) == (
            deltas[0], 0.0, n - 1)
    # The same change, up to the rounding of subtracting two metrics: no
    # interval of width 1e-14 either.
    deltas = [100 * .512 - 100 * .498, 100 * .612 - 100 * .598,
              100 * .712 - 100 * .698]
    assert len(set(deltas)) > 1
    stats = paired_stats(deltas)
    assert stats['ci95'] is None and 'agree exactly' in stats['verdict']
    # Deltas that merely lie close are an interval.
    assert paired_stats([2.0, 2.0, 2.01])['verdict'] == 'GC higher (better)'


def test_fewer_than_three_seeds_never_resolve_a_direction(without_scipy):
    # Two seeds whose interval excludes 0: t_{0.975,1} = 12.706205,
    # sd = .0141421, half-width 12.706205 * .0141421 / sqrt(2) = .127062.
    stats = paired_stats([-0.50, -0.52], higher_is_better=False)
    assert stats['ci95'] == pytest.approx([-0.637062, -0.382938], abs=1e-6)
    assert stats['verdict'] == (
        'not resolved with 2 seeds: the interval excludes 0, but a direction '
        'needs 3 or more seeds')
    assert stats['resolved'] is False and stats['seeds_better'] == 2
    assert paired_stats([1.0, -1.0])['verdict'] == (
        'no difference resolved with 2 seeds')
    # From three seeds on, an interval that excludes 0 names the direction.
    three = paired_stats([-0.50, -0.52, -0.51], higher_is_better=False)
    assert three['verdict'] == 'GC lower (better)' and three['resolved']
    assert paired_stats([1.0, 2.0, 3.0])['resolved'] is False


def test_one_seed_or_a_missing_value_gives_no_interval():
    one = paired_stats([2.5])
    assert (one['mean'], one['ci95'], one['sd']) == (2.5, None, None)
    assert one['verdict'] == 'no interval with 1 seed'
    assert one['resolved'] is False
    missing = paired_stats([1.0, None])
    assert missing['mean'] is None and missing['ci95'] is None
    assert missing['verdict'] == 'n/a (a value is missing)'


def test_t_quantiles_from_the_table_and_past_it(without_scipy):
    assert t_quantile_975(1) == (12.706205, 'table')
    assert t_quantile_975(30) == (2.042272, 'table')
    # Past the table: the normal quantile with its corrections, against
    # published t_{0.975, df}; it tends to the normal limit.
    for df, expected in ((31, 2.039513), (40, 2.021075), (60, 2.000298),
                         (120, 1.979930)):
        value, source = t_quantile_975(df)
        assert value == pytest.approx(expected, abs=1e-6) and (
            source == 'table')
    assert t_quantile_975(10**6)[0] == pytest.approx(1.959964, abs=1e-5)
    with pytest.raises(ValueError, match='df >= 1'):
        t_quantile_975(0)


def test_t_quantiles_come_from_scipy_where_it_is_installed():
    # The table above was checked against scipy.stats.t.ppf(0.975, df) for
    # df 1..30; with scipy installed (the development setup) its value is
    # used and must agree with the table.
    has_scipy = importlib.util.find_spec('scipy') is not None
    for df in (1, 2, 5, 30):
        value, source = t_quantile_975(df)
        assert source == ('scipy' if has_scipy else 'table')
        assert value == pytest.approx(T_975[df - 1], abs=1e-6)


def write_recorded_side(root: Path, final_by_seed: dict, trained_seeds=None):
    """seed_<N> folders whose records say which seed each was trained with
    (their folder's unless ``trained_seeds`` says otherwise)."""
    write_compare_side(root, final_by_seed)
    for seed in final_by_seed:
        trained = (trained_seeds or {}).get(seed, seed)
        write_run_record(root / f'seed_{seed}', run_record(
            Path('toy.py'), [], trained, 1, {'randomness.seed': trained}))
    return root


def test_pairs_share_their_recorded_seed_or_are_refused(tmp_path):
    base = find_runs(write_recorded_side(tmp_path / 'base', {
        0: {'reid/mAP': 70.0}, 1: {'reid/mAP': 71.0}}))
    gc = find_runs(write_recorded_side(tmp_path / 'gc', {
        0: {'reid/mAP': 72.0}, 1: {'reid/mAP': 74.0}}))
    table = build_table(pair_by_seed(base, gc), NAMES)
    assert table['pairing']['checked'] is True
    assert 'each pair shares its seed (checked in both runs' in (
        table['pairing']['note'])

    # What `--cfg-options randomness.seed=5` used to leave: every folder
    # trained with seed 5.
    for side in ('base5', 'gc5'):
        write_recorded_side(tmp_path / side, {
            0: {'reid/mAP': 70.0}, 1: {'reid/mAP': 70.0}}, {0: 5, 1: 5})
    with pytest.raises(ValueError) as error:
        build_table(pair_by_seed(find_runs(tmp_path / 'base5'),
                                 find_runs(tmp_path / 'gc5')), NAMES)
    assert 'not paired by seed' in str(error.value)
    assert 'is filed as seed 1 but was trained with seed 5' in str(
        error.value)

    # Without records the pairing rests on the folder names, and says so.
    plain = find_runs(write_compare_side(tmp_path / 'plain', {
        0: {'reid/mAP': 70.0}}))
    table = build_table(pair_by_seed(plain, plain), NAMES)
    assert table['pairing']['checked'] is False
    assert 'not checked' in table['pairing']['note']


def test_the_table_gains_the_paired_statistics(tmp_path, without_scipy):
    base = find_runs(write_compare_side(tmp_path / 'base', {
        s: {'accuracy/top1': 70.0} for s in (0, 1, 2)}))
    gc = find_runs(write_compare_side(tmp_path / 'gc', {
        0: {'accuracy/top1': 72.0}, 1: {'accuracy/top1': 73.0},
        2: {'accuracy/top1': 74.0}}))
    table = build_table(pair_by_seed(base, gc), NAMES)
    columns = {c['key']: c for c in table['groups'][0]['columns']}
    assert columns['accuracy/top1']['paired']['ci95'] == pytest.approx(
        [0.515862, 5.484138], abs=1e-5)
    text = format_table(table)
    rows = table_rows(text, 'Classification: top-1/top-5 accuracy and error'
                      ' (%)')
    # The paper's rows are unchanged ...
    assert rows['delta'][0] == '+3.00±1.00'
    # ... and the paired statistics follow, one line per metric.
    lines = text.splitlines()
    start = lines.index('Paired by seed (3 seeds: 0, 1, 2): delta = w/ GC - '
                        'w/o GC per seed; mean, 95% confidence interval '
                        '(Student t, df 2), on how many seeds GC did better, '
                        'verdict:')
    assert [line.split() for line in lines[start + 1:start + 3]] == [
        ['top-1', 'acc', '+3.00', '[+0.52,', '+5.48]', '3/3', 'GC', 'higher',
         '(better)'],
        # Error falls by as much: lower, and better, on every seed.
        ['top-1', 'err', '-3.00', '[-5.48,', '-0.52]', '3/3', 'GC', 'lower',
         '(better)'],
    ]
    # top-5 accuracy was not logged by these runs, so the set stops there.
    assert len(lines) == start + 3
    markdown = format_table(table, markdown=True).splitlines()
    assert '| Metric | delta | 95% CI | GC better | verdict |' in markdown
    assert ('| top-1 acc | +3.00 | [+0.52, +5.48] | 3/3 | GC higher (better) '
            '|') in markdown
    # JSON-able, per-seed values included.
    loaded = json.loads(json.dumps(table))
    paired = loaded['groups'][0]['columns'][0]['paired']
    assert paired['deltas'] == [2.0, 3.0, 4.0] and paired['n'] == 3
    assert paired['t_source'] == 'table' and paired['better'] == 'higher'

    plot_paired(table, tmp_path / 'paired.png')
    assert (tmp_path / 'paired.png').read_bytes()[:8] == (
        b'\x89PNG\r\n\x1a\n')


# --------------------------------------------------------------------------
# The paper-format table
# --------------------------------------------------------------------------
def test_detection_table_box_and_mask_blocks(tmp_path):
    def coco(box_ap, mask_ap):
        metrics = {key: box_ap for key in COCO_BOX}
        metrics['coco/bbox_mAP_s'] = -1.0  # no small objects: COCOeval's -1
        metrics.update({key.replace('bbox', 'segm'): mask_ap
                        for key in COCO_BOX})
        return metrics

    base = find_runs(write_compare_side(tmp_path / 'base', {
        0: coco(0.300, 0.280), 1: coco(0.310, 0.290)}))
    gc = find_runs(write_compare_side(tmp_path / 'gc', {
        0: coco(0.320, 0.286), 1: coco(0.326, 0.300)}))
    table = build_table(pair_by_seed(base, gc), NAMES)
    assert [group['title'] for group in table['groups']] == ['box', 'mask']
    box_ap = table['groups'][0]['columns'][0]
    assert box_ap['baseline'] == pytest.approx([30.0, 31.0])
    assert box_ap['delta'] == pytest.approx([2.0, 1.6])
    assert table['groups'][0]['columns'][3]['baseline'] == [None, None]
    assert table['final_epochs'] == dict(baseline=[2, 2], candidate=[2, 2])

    text = format_table(table)
    box = table_rows(text, 'Detection: COCO box AP (%)')
    assert box['Method'] == ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl']
    assert box['w/o GC'][:4] == ['30.5±0.7', '30.5±0.7', '30.5±0.7', 'n/a']
    assert box['w/ GC'][0] == '32.3±0.4'
    assert box['delta'][0] == '+1.8±0.3'
    mask = table_rows(text, 'Instance segmentation: COCO mask AP (%)')
    assert mask['delta'] == ['+0.8±0.3'] * 6
    # Columns are right-aligned under their header.
    lines = text.splitlines()
    assert len({len(line) for line in lines[1:6]}) == 1

    assert format_per_seed(table).splitlines() == [
        '  seed 0: box AP 30.0 -> 32.0 (+2.0)',
        '  seed 1: box AP 31.0 -> 32.6 (+1.6)',
        '  seed 0: mask AP 28.0 -> 28.6 (+0.6)',
        '  seed 1: mask AP 29.0 -> 30.0 (+1.0)',
    ]


def test_reid_table_is_not_rescaled(tmp_path):
    def reid(offset):
        return {'reid/mAP': 70.0 + offset, 'reid/R1': 85.0 + offset,
                'reid/R5': 93.0 + offset, 'reid/R10': 95.0 + offset}

    base = find_runs(write_compare_side(tmp_path / 'base', {0: reid(0)}))
    gc = find_runs(write_compare_side(tmp_path / 'gc', {0: reid(2.3)}))
    table = build_table(pair_by_seed(base, gc), NAMES)
    text = format_table(table)
    rows = table_rows(text, 'ReID: mAP and CMC rank-k (%)')
    assert rows['Method'] == ['mAP', 'R1', 'R5', 'R10']
    # One seed: no ± part.
    assert rows['w/o GC'] == ['70.0', '85.0', '93.0', '95.0']
    assert rows['delta'] == ['+2.3', '+2.3', '+2.3', '+2.3']
    assert format_table(table, markdown=True).splitlines() == [
        '**ReID: mAP and CMC rank-k (%)**', '',
        '| Method | mAP | R1 | R5 | R10 |',
        '|---|---:|---:|---:|---:|',
        '| w/o GC | 70.0 | 85.0 | 93.0 | 95.0 |',
        '| w/ GC | 72.3 | 87.3 | 95.3 | 97.3 |',
        '| delta | +2.3 | +2.3 | +2.3 | +2.3 |',
        '',
        'Paired by seed (1 seed: 0): no interval can be given with one seed; '
        'train with several (--seeds 0 1 2) for a 95% confidence interval of '
        'the change.',
    ]
    # The table alone, as before the paired statistics.
    assert format_table(table, markdown=True, paired=False).splitlines()[
        -1] == '| delta | +2.3 | +2.3 | +2.3 | +2.3 |'


def test_classification_table_reports_accuracy_and_error(tmp_path):
    for method, shift in (('base', 0.0), ('gc', 2.0)):
        write_compare_side(tmp_path / method, {
            seed: {'accuracy/top1': top1 + shift,
                   'accuracy/top5': 93.0 + shift}
            for seed, top1 in ((0, 76.5), (1, 77.25))})
    pairs = pair_by_seed(find_runs(tmp_path / 'base'),
                         find_runs(tmp_path / 'gc'))
    table = build_table(pairs, NAMES)
    text = format_table(table)
    rows = table_rows(
        text, 'Classification: top-1/top-5 accuracy and error (%)')
    assert rows['Method'] == ['top-1 acc', 'top-5 acc', 'top-1 err',
                              'top-5 err']
    assert rows['w/o GC'] == ['76.88±0.53', '93.00±0.00', '23.12±0.53',
                              '7.00±0.00']
    assert rows['w/ GC'] == ['78.88±0.53', '95.00±0.00', '21.12±0.53',
                             '5.00±0.00']
    # GC lowers the error: a negative delta.
    assert rows['delta'] == ['+2.00±0.00', '+2.00±0.00', '-2.00±0.00',
                             '-2.00±0.00']
    assert '| Method | top-1 acc | top-5 acc | top-1 err | top-5 err |' in (
        format_table(table, markdown=True))
    assert format_per_seed(table).splitlines() == [
        '  seed 0: cls top-1 acc 76.50 -> 78.50 (+2.00)',
        '  seed 1: cls top-1 acc 77.25 -> 79.25 (+2.00)',
    ]


def test_requested_and_unknown_metrics(tmp_path):
    base = find_runs(write_compare_side(tmp_path / 'base', {
        0: {'coco/bbox_mAP': 0.3, 'custom/score': 4.0}}))
    gc = find_runs(write_compare_side(tmp_path / 'gc', {
        0: {'coco/bbox_mAP': 0.4, 'custom/score': 5.0}}))
    pairs = pair_by_seed(base, gc)
    # Only the requested keys, a known one in the paper's unit and name.
    table = build_table(pairs, NAMES, ['custom/score', 'coco/bbox_mAP'])
    assert [(g['title'], [c['name'] for c in g['columns']], g['scale'])
            for g in table['groups']] == [('custom', ['custom/score'], 1.0),
                                          ('box', ['AP'], 100.0)]
    assert table['groups'][1]['columns'][0]['delta'] == [pytest.approx(10)]
    with pytest.raises(KeyError, match=r"\['reid/mAP'\] were not logged"):
        build_table(pairs, NAMES, ['reid/mAP'])

    # No known set at all: every shared metric, as logged.
    base = find_runs(write_compare_side(tmp_path / 'b2', {
        0: {'custom/score': 4.0, 'custom/other': 1.0}}))
    gc = find_runs(write_compare_side(tmp_path / 'g2', {
        0: {'custom/score': 5.0}}))
    text = format_table(build_table(pair_by_seed(base, gc), NAMES))
    assert table_rows(text, 'Final validation metrics')['delta'] == ['+1.0']


# --------------------------------------------------------------------------
# Training side: planning, finished-run checks, progress lines
# --------------------------------------------------------------------------
def load_compare_tool():
    """tools/compare.py as a module, for its argument parsing."""
    return load_tool('compare')


def test_repeated_seeds_add_up_and_each_trains_once():
    parse_args = load_compare_tool().parse_args
    # Before: the last --seeds won, so this trained seed 1 only.
    assert parse_args(['a.py', 'b.py', '--seeds', '0', '1', '--seeds',
                       '1']).seeds == [0, 1]
    assert parse_args(['a.py', 'b.py', '--seeds', '2', '0', '2', '--seeds',
                       '1', '0']).seeds == [2, 0, 1]
    assert parse_args(['a.py', 'b.py']).seeds == [0]
    # --cfg-options adds up the same way.
    assert parse_args(['a.py', 'b.py', '--cfg-options', 'x=1', '--seeds',
                       '0', '--cfg-options', 'y=2']).cfg_options == [
                           'x=1', 'y=2']


@pytest.mark.parametrize('option', [
    'randomness.seed=5', ' randomness.seed = 5',
    'randomness=dict(seed=5, deterministic=False)'])
def test_a_seed_in_cfg_options_is_refused(option, capsys):
    parse_args = load_compare_tool().parse_args
    # Before: every run trained with seed 5 and the table showed ±0.00 "over
    # two seeds".
    with pytest.raises(SystemExit) as exit_info:
        parse_args(['a.py', 'b.py', '--seeds', '0', '1', '--cfg-options',
                    'train_cfg.max_epochs=2', option])
    assert exit_info.value.code == 2
    message = capsys.readouterr().err
    assert f'--cfg-options {option} sets the seed' in message
    assert 'own seed from --seeds' in message
    with pytest.raises(ValueError, match='Pass the seeds as --seeds'):
        check_cfg_options([option])
    # Other randomness options are the user's.
    check_cfg_options(['randomness.deterministic=True',
                       'randomness.diff_rank_seed=True',
                       'randomness=dict(diff_rank_seed=True)'])


def write_config(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


TOY_CONFIG = ("model = dict(type='Net', width=8)\n"
              "optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1))\n"
              'train_cfg = dict(max_epochs=3)\n')


def finished_run(run_dir: Path, task: TrainTask, gpus: int = 1):
    """A run folder as compare leaves it: the record, a checkpoint and the
    final epoch's metrics."""
    write_run_record(run_dir, run_record(task.config, [], task.seed, gpus,
                                         task.resolved))
    write_compare_side(run_dir.parent, {task.seed: {'reid/mAP': 1.0}},
                       epochs=3)
    (run_dir / 'epoch_3.pth').write_bytes(b'')


def test_a_folder_trained_with_another_config_is_refused(tmp_path):
    config = write_config(tmp_path / 'toy.py', TOY_CONFIG)
    out = tmp_path / 'out'
    tasks = plan_runs([str(config)], NAMES[:1], [0, 1], out, [])
    assert tasks[0].resolved['optim_wrapper.optimizer.lr'] == 0.1
    assert tasks[1].resolved['randomness.seed'] == 1
    for task in tasks:
        finished_run(task.run_dir, task)
    # The same config again: reused, nothing to refuse.
    assert [t.run_dir for t in plan_runs([str(config)], NAMES[:1], [0, 1],
                                         out, [])] == [
                                             t.run_dir for t in tasks]
    # Before: "finished run found, reusing it", and the old numbers in a
    # table that says lr=0.5.
    with pytest.raises(ValueError) as error:
        plan_runs([str(config)], NAMES[:1], [0, 1], out,
                  ['optim_wrapper.optimizer.lr=0.5'])
    message = str(error.value)
    for seed in (0, 1):
        assert (f'{out / "toy" / f"seed_{seed}"}: '
                'optim_wrapper.optimizer.lr: 0.1 -> 0.5 (recorded in') in (
                    message)
    assert 'Use another --work-dir for this configuration, or delete' in (
        message)
    # An edited config file is another config too; so are more processes.
    write_config(config, TOY_CONFIG.replace('width=8', 'width=16'))
    with pytest.raises(ValueError, match=r'model.width: 8 -> 16'):
        plan_runs([str(config)], NAMES[:1], [0], out, [])
    write_config(config, TOY_CONFIG)
    with pytest.raises(ValueError, match=r'--gpus: 1 -> 8'):
        plan_runs([str(config)], NAMES[:1], [0], out, [], gpus=8)


def test_an_interrupted_run_resumes_only_with_its_own_config(tmp_path):
    config = write_config(tmp_path / 'toy.py', TOY_CONFIG)
    out = tmp_path / 'out'
    task, = plan_runs([str(config)], NAMES[:1], [0], out, [])
    # Killed after epoch 1: a checkpoint, no final evaluation.
    write_run_record(task.run_dir, run_record(config, [], 0, 1,
                                              task.resolved))
    (task.run_dir / 'epoch_1.pth').write_bytes(b'')
    (task.run_dir / 'last_checkpoint').write_text(
        str(task.run_dir / 'epoch_1.pth'))
    assert plan_runs([str(config)], NAMES[:1], [0], out, [])[0].run_dir == (
        task.run_dir)
    with pytest.raises(ValueError, match='train_cfg.max_epochs: 3 -> 4'):
        plan_runs([str(config)], NAMES[:1], [0], out,
                  ['train_cfg.max_epochs=4'])
    # An empty folder (or none) holds nothing to protect.
    check_run_folder(tmp_path / 'empty', task.resolved, 1)


def test_a_folder_without_record_is_checked_by_its_logged_command(
        tmp_path):
    """Runs of an earlier compare have no record; the command it logged in
    train_output.log shows the --cfg-options they were trained with."""
    config = write_config(tmp_path / 'toy.py', TOY_CONFIG)
    task, = plan_runs([str(config)], NAMES[:1], [0], tmp_path / 'out', [])
    task.run_dir.mkdir(parents=True)
    (task.run_dir / 'epoch_1.pth').write_bytes(b'')
    (task.run_dir / 'train_output.log').write_text(
        f'$ python tools/train.py {config} --work-dir {task.run_dir} '
        "--cfg-options randomness.seed=0 'train_cfg.max_epochs=3'\n"
        'Epoch(train) [1][1/4] ...\n'
        f'$ python tools/train.py {config} --work-dir {task.run_dir} '
        '--cfg-options randomness.seed=0 train_cfg.max_epochs=3 --resume\n')
    assert not (task.run_dir / RUN_RECORD).exists()
    check_run_folder(task.run_dir, task.resolved, 1,
                     ['train_cfg.max_epochs=3'])
    with pytest.raises(ValueError) as error:
        check_run_folder(task.run_dir, task.resolved, 2,
                         ['optim_wrapper.optimizer.lr=0.5'])
    assert (f'{task.run_dir}: --cfg-options optim_wrapper.optimizer.lr: '
            '(not given) -> 0.5; --cfg-options train_cfg.max_epochs: 3 -> '
            '(not given); --gpus: 1 -> 2 (from the command in '
            f'{task.run_dir / "train_output.log"}; the folder has no record '
            'of the config itself)') in str(error.value)
    # Nothing logged and no record: nothing to check against.
    (task.run_dir / 'train_output.log').unlink()
    check_run_folder(task.run_dir, task.resolved, 1,
                     ['optim_wrapper.optimizer.lr=0.5'])


def flat(text: str) -> dict:
    namespace = {}
    exec(text, {}, namespace)
    return flat_config(namespace)


BASELINE = flat("""
model = dict(type='Net', width=8)
custom_imports = dict(imports=['my_modules'])
optim_wrapper = dict(
    optimizer=dict(type='Adam', lr=0.1, betas=(0.9, 0.99)),
    paramwise_cfg=dict(custom_keys={'head.fc': dict(lr_mult=0.1)}))
work_dir = 'work_dirs/baseline'
randomness = dict(seed=0)
""")


def test_a_gc_only_twin_passes_the_twin_check():
    twin = flat("""
model = dict(type='Net', width=8)
custom_imports = dict(imports=['my_modules', 'mmgc'])
optim_wrapper = dict(
    constructor='GCOptimWrapperConstructor',
    optimizer=dict(type='Adam_GCC2', lr=0.1, betas=(0.9, 0.99)),
    paramwise_cfg=dict(
        gc_conv_only=True, gc_module_types=['Conv2d'],
        custom_keys={'head.fc': dict(lr_mult=0.1, use_gc=False)}))
work_dir = 'work_dirs/twin'
experiment_name = 'twin'
randomness = dict(seed=3)
""")
    assert twin_differences(BASELINE, twin) == []
    for name, base in (('SGD_GC', 'SGD'), ('SGDW_GCC', 'SGDW'),
                       ('Adam_GCC2', 'Adam'), ('AdamW_GC2', 'AdamW'),
                       ('GCAdamW', 'AdamW'), ('GCSGD', 'SGD'),
                       ('GCRAdam', 'RAdam'), ('Adagrad_GCC', 'Adagrad'),
                       ('Ranger', 'Ranger'), ('SGD', 'SGD')):
        assert gc_base_type(name) == base


def test_a_twin_that_changes_more_than_gc_is_named_key_by_key():
    twin = flat("""
model = dict(type='Net', width=16)
custom_imports = dict(imports=['my_modules', 'mmgc'])
optim_wrapper = dict(
    optimizer=dict(type='SGD_GCC', lr=0.5, momentum=0.9),
    paramwise_cfg=dict(custom_keys={'head.fc': dict(lr_mult=1.0)}))
train_dataloader = dict(batch_size=32)
""")
    assert twin_differences(BASELINE, twin) == [
        ('model.width', 8, 16),
        ('optim_wrapper.optimizer.betas.0', 0.9, '(absent)'),
        ('optim_wrapper.optimizer.betas.1', 0.99, '(absent)'),
        ('optim_wrapper.optimizer.betas.__len__', 2, '(absent)'),
        ('optim_wrapper.optimizer.lr', 0.1, 0.5),
        ('optim_wrapper.optimizer.momentum', '(absent)', 0.9),
        # Adam -> SGD_GCC is another algorithm, not Adam with GC.
        ('optim_wrapper.optimizer.type', 'Adam', 'SGD_GCC'),
        ('optim_wrapper.paramwise_cfg.custom_keys.head.fc.lr_mult', 0.1,
         1.0),
        ('train_dataloader.batch_size', '(absent)', 32),
    ]
    # Another module imported besides mmgc is a difference too.
    other = dict(BASELINE, **{'custom_imports.imports.0': 'other_modules'})
    assert [key for key, _, _ in twin_differences(BASELINE, other)] == [
        'custom_imports.imports.0']


OPTIM_WRAPPERS = {
    # mmgc's optimizers apply GC themselves, unless switched off.
    "dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9))": False,
    "dict(optimizer=dict(type='SGD_GC', lr=0.1, momentum=0.9))": True,
    "dict(optimizer=dict(type='Adam_GCC2', lr=1e-3, betas=(0.9, 0.99)))":
    True,
    "dict(optimizer=dict(type='GCAdamW', lr=1e-3))": True,
    "dict(optimizer=dict(type='GCAdamW', lr=1e-3, use_gc=False))": False,
    "dict(optimizer=dict(type='Ranger', lr=1e-3))": True,
    "dict(optimizer=dict(type='Lookahead', optimizer=dict(type='SGD_GC', "
    'lr=0.1)))': True,
    "dict(optimizer=dict(type='Lookahead', optimizer=dict(type='SGD', "
    'lr=0.1)))': False,
    # GC on some layers is GC: off by default, on for one name.
    "dict(optimizer=dict(type='GCSGD', lr=0.1, use_gc=False), paramwise_cfg="
    "dict(custom_keys={'backbone.conv': dict(use_gc=True)}))": True,
    # mmgc's constructor adds GC to any optimizer ...
    "dict(constructor='GCOptimWrapperConstructor', optimizer=dict("
    "type='AdamW', lr=1e-3))": True,
    "dict(constructor='GCOptimWrapperConstructor', optimizer=dict("
    "type='AdamW', lr=1e-3), paramwise_cfg=dict(use_gc=False))": False,
    "dict(constructor='GCOptimWrapperConstructor', optimizer=dict("
    "type='AdamW', lr=1e-3), paramwise_cfg=dict(use_gc=False, custom_keys="
    "{'head.fc': dict(use_gc=True)}))": True,
    # ... mmengine's reads no paramwise GC option.
    "dict(optimizer=dict(type='AdamW', lr=1e-3), paramwise_cfg=dict("
    'use_gc=True))': False,
}


@pytest.mark.parametrize('optim_wrapper', OPTIM_WRAPPERS)
def test_whether_a_config_applies_gc_is_asked_of_its_optimizer(
        optim_wrapper):
    # As compare reads it back from a run's record: flat, through JSON.
    recorded = json.loads(json.dumps(flat(f'optim_wrapper = {optim_wrapper}')))
    use = gc_use(recorded)
    assert use.applies is OPTIM_WRAPPERS[optim_wrapper], use
    assert use.how.startswith('optimizer ')


def test_a_config_whose_optimizer_is_unknown_here_is_not_judged():
    # As a type from a package this process has not imported (mmpretrain's
    # Lamb, unless another test imported mmpretrain before).
    use = gc_use(flat(
        "optim_wrapper = dict(optimizer=dict(type='LambOfAnotherPackage'))"))
    assert use.applies is None
    assert "optimizer 'LambOfAnotherPackage'; not buildable here: " in use.how
    assert gc_use(flat('model = dict(type="Net")')) == GCUse(
        None, 'no optim_wrapper.optimizer.type')


def test_the_gc_side_must_be_second_and_the_only_one():
    off = GCUse(False, "optimizer 'SGD'")
    on = GCUse(True, "optimizer 'SGD_GC'")
    assert check_gc_sides('base.py', off, 'gc.py', on) == (
        "base.py trains without GC (optimizer 'SGD'), gc.py with GC "
        "(optimizer 'SGD_GC')")
    with pytest.raises(ValueError) as error:
        check_gc_sides('gc.py', on, 'base.py', off)
    assert str(error.value).startswith(
        'The sides are in the wrong order: the first argument is the '
        'baseline (without GC) and the second the GC side, but the first, '
        "gc.py (optimizer 'SGD_GC'), applies GC and the second, base.py "
        "(optimizer 'SGD'), does not.")
    assert str(error.value).endswith(
        'Swap them: tools/compare.py base.py gc.py ...')
    with pytest.raises(ValueError, match=r"^Neither side applies GC: base.py "
                       r"\(optimizer 'SGD'\) and gc.py \(optimizer 'SGD'\)"):
        check_gc_sides('base.py', off, 'gc.py', off)
    # Two GC variants: refused under the default labels, compared under the
    # user's.
    with pytest.raises(ValueError, match='Both sides apply GC: .* name the '
                       'sides with --names'):
        check_gc_sides('gc.py', on, 'gcc.py', on)
    assert check_gc_sides('gc.py', on, 'gcc.py', on,
                          names_given=True).startswith(
                              'both sides apply GC: gc.py')
    unknown = GCUse(None, "optimizer 'Lamb'; not buildable here: ...")
    assert check_gc_sides('gc.py', on, 'lamb.py', unknown) == (
        "whether lamb.py (optimizer 'Lamb'; not buildable here: ...) applies "
        'GC is not known here, so the order of the sides is taken as given '
        '(baseline first, GC second)')


def test_plan_runs_only_for_configs(tmp_path):
    config = tmp_path / 'toy_gc.py'
    config.write_text('train_cfg = dict(max_epochs=12)\n')
    work_dir = write_compare_side(tmp_path / 'base_runs',
                                  {0: {'reid/mAP': 1.0}})
    tasks = plan_runs([str(work_dir), str(config)], NAMES, [0, 4],
                      tmp_path / 'out', ['train_cfg.max_epochs=3'])
    assert [(t.label, t.seed, t.max_epochs, t.index) for t in tasks] == [
        ('w/ GC', 0, 3, 0), ('w/ GC', 4, 3, 1)]
    assert tasks[1].run_dir == tmp_path / 'out' / 'toy_gc' / 'seed_4'

    other = tmp_path / 'other' / 'toy_gc.py'
    other.parent.mkdir()
    other.write_text('')
    with pytest.raises(ValueError, match='Both configs are named toy_gc'):
        plan_runs([str(config), str(other)], NAMES, [0], tmp_path, [])
    with pytest.raises(FileNotFoundError, match='Config .*nope.py does not'):
        plan_runs([str(tmp_path / 'nope.py'), str(config)], NAMES, [0],
                  tmp_path, [])


def test_collect_runs_refuses_unfinished_runs(tmp_path):
    config = tmp_path / 'toy.py'
    write_compare_side(tmp_path / 'toy', {0: {'reid/mAP': 1.0}}, epochs=3)
    write_compare_side(tmp_path / 'toy', {1: {'reid/mAP': 1.0}}, epochs=2)
    tasks = [TrainTask(config, tmp_path / 'toy' / f'seed_{seed}', seed,
                       'w/o GC', 3, seed) for seed in (0, 1)]
    with pytest.raises(RuntimeError,
                       match=r'ended before epoch 3: \[.*seed_1\'\]'):
        collect_runs(str(config), tasks)
    runs = collect_runs(str(config), tasks[:1])
    assert [(run.seed, run.final_epoch) for run in runs] == [(0, 3)]


def test_progress_lines_from_the_training_log(capsys):
    start = time.monotonic()
    train_line = (
        '2026/01/01 00:00:00 - mmengine - INFO - Epoch(train)  [2][ 4/10]  '
        'base_lr: 2.0000e-02 lr: 2.0000e-02  eta: 0:01:05  time: 0.5  '
        'data_time: 0.1  memory: 0  loss: 1.23456  loss_cls: 0.5')
    val_line = (
        '2026/01/01 00:00:00 - mmengine - INFO - Epoch(val) [2][8/8]    '
        'coco/bbox_mAP: 0.3120  coco/bbox_mAP_50: 0.5000  data_time: 0.1')
    report_progress(train_line, 'w/ GC', 1, 12, start=start)
    report_progress(val_line, 'w/ GC', 1, 12, start=start)
    report_progress('Epoch(val) [2][4/8]    eta: 0:00:01', 'w/ GC', 1, 12,
                    start=start)  # an evaluation still running: no line
    report_progress('Traceback (most recent call last):', 'w/o GC', 0, None,
                    start=start)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert re.fullmatch(
        r'\[compare\] w/ GC seed 1: epoch 2/12 iter 4/10 loss 1\.235 '
        r'\(elapsed \d+m\d\ds, run ETA 0:01:05\)', lines[0])
    assert lines[1] == '[compare] w/ GC seed 1: epoch 2 evaluated: box AP 31.2'
    assert 'w/o GC seed 0: the training process raised an error' in lines[2]


# --------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------
def test_plots_are_written(tmp_path):
    for method, shift in (('base', 0.0), ('gc', 0.01)):
        write_compare_side(tmp_path / method, {
            seed: {'coco/bbox_mAP': 0.3 + shift + seed / 100}
            for seed in (0, 1)})
    pairs = pair_by_seed(find_runs(tmp_path / 'base'),
                         find_runs(tmp_path / 'gc'))
    table = build_table(pairs, NAMES)
    plot_losses(pairs, NAMES, tmp_path / 'loss.png')
    plot_metrics(pairs, NAMES, table, tmp_path / 'metrics.png')
    for name in ('loss.png', 'metrics.png'):
        assert (tmp_path / name).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
