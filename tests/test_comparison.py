"""mmgc.comparison on synthetic runs: work dirs with the vis_data/scalars.json
files and the log lines tools/train.py writes, made up here, so the reader,
the seed pairing and the paper-format table are checked without training."""
import json
import re
import time
from pathlib import Path

import pytest

from mmgc.comparison import (build_table, find_runs, format_per_seed,
                             format_table, mean_std, pair_by_seed,
                             plot_losses, plot_metrics, read_run,
                             unpaired_seeds)
from mmgc.comparison.training import (TrainTask, collect_runs, plan_runs,
                                      report_progress)

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
    ]


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
