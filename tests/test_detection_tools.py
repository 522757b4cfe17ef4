"""The detection tools end to end, on a tiny built-in dataset: tools/train.py,
tools/test.py, tools/dist_train.sh (2 CPU processes, gloo), tools/compare.py.

Each run is a few iterations, so the metrics are near zero; the tests check
that real COCO evaluation produced them, not how good they are.
"""
import json
import re
import struct
from pathlib import Path

import pytest
import torch

from _det_utils import (PYTHON, TESTS_DIR, TOY_FASTER_GC,
                        TOY_MASK, TOY_MASK_GC, TINY_TOY_COCO,
                        data_root_options, run_tool, tiny_schedule_options)

pytestmark = [pytest.mark.detection]

TOY_DATA = TINY_TOY_COCO  # what the toy_root fixture writes (conftest.py)
COCO_BOX_KEYS = [
    'coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/bbox_mAP_75',
    'coco/bbox_mAP_s', 'coco/bbox_mAP_m', 'coco/bbox_mAP_l'
]


def train(config: Path, work_dir: Path, toy_root: Path, *extra: str):
    return run_tool([
        PYTHON, 'tools/train.py', config, '--work-dir', work_dir,
        '--cfg-options', *data_root_options(toy_root),
        *tiny_schedule_options(), *extra
    ])


def val_metrics(work_dir: Path):
    """Validation entries of scalars.json, by epoch."""
    metrics = {}
    for scalars in sorted(work_dir.glob('*/vis_data/scalars.json')):
        for line in scalars.read_text().splitlines():
            entry = json.loads(line)
            if 'coco/bbox_mAP' in entry:
                metrics[entry['step']] = entry
    return metrics


@pytest.fixture(scope='module')
def compare_training(tmp_path_factory, toy_root):
    """tools/compare.py in training mode: two 2-epoch Mask R-CNN runs, SGD
    and SGD_GC, seed 0, side by side; each run is a tools/train.py process.
    """
    work_dir = tmp_path_factory.mktemp('compare_training')
    result = run_tool([
        PYTHON, 'tools/compare.py', TOY_MASK, TOY_MASK_GC, '--work-dir',
        work_dir, '--jobs', '2', '--cfg-options',
        *data_root_options(toy_root), *tiny_schedule_options()
    ])
    return work_dir, result.stdout


@pytest.fixture(scope='module')
def tiny_runs(compare_training):
    work_dir, _ = compare_training
    return {
        'baseline': work_dir / TOY_MASK.stem / 'seed_0',
        'gc': work_dir / TOY_MASK_GC.stem / 'seed_0',
    }


def test_compare_trains_both_configs_and_reports_progress(compare_training):
    work_dir, stdout = compare_training
    assert '2 training run(s) to do or reuse, seeds [0]' in stdout
    assert 'training 2 runs at a time' in stdout
    for label in ('w/o GC', 'w/ GC'):
        assert re.search(
            rf'\[compare\] {re.escape(label)} seed 0: epoch 2/2 iter 4/4 '
            r'loss [\d.]+', stdout), stdout[-3000:]
        assert re.search(
            rf'\[compare\] {re.escape(label)} seed 0: epoch 2 evaluated: '
            r'box AP [\d.]+, mask AP [\d.]+', stdout)
    assert 'Detection: COCO box AP (%)' in stdout
    assert (work_dir / 'loss_curves.png').is_file()
    # Both runs were trained with the same seed.
    for config in (TOY_MASK, TOY_MASK_GC):
        dumped = (work_dir / config.stem / 'seed_0' / config.name).read_text()
        assert re.search(r'randomness\s*=\s*dict\(\s*seed\s*=\s*0\s*\)',
                         dumped), dumped[-500:]


def test_train_writes_checkpoints_and_coco_metrics(tiny_runs):
    work_dir = tiny_runs['baseline']
    assert (work_dir / 'epoch_1.pth').is_file()
    assert (work_dir / 'epoch_2.pth').is_file()
    metrics = val_metrics(work_dir)
    assert sorted(metrics) == [1, 2]
    for key in COCO_BOX_KEYS + ['coco/segm_mAP', 'coco/segm_mAP_50']:
        assert key in metrics[2]
        assert -1 <= metrics[2][key] <= 1  # COCOeval reports -1 when empty
    checkpoint = torch.load(work_dir / 'epoch_2.pth', weights_only=False)
    assert checkpoint['meta']['epoch'] == 2
    optimizer = checkpoint['optimizer']
    assert optimizer['state'], 'momentum buffers missing from the checkpoint'
    assert optimizer['param_groups'][0]['momentum'] == 0.9


def test_gc_run_used_sgd_gc(tiny_runs):
    dumped = next(tiny_runs['gc'].glob('*.py')).read_text()
    assert "type='SGD_GC'" in dumped
    baseline = next(tiny_runs['baseline'].glob('*.py')).read_text()
    assert "type='SGD'" in baseline and 'SGD_GC' not in baseline


def test_test_tool_evaluates_the_checkpoint(tiny_runs, toy_root, tmp_path):
    predictions = tmp_path / 'predictions.pkl'
    result = run_tool([
        PYTHON, 'tools/test.py', TOY_MASK, tiny_runs['baseline'] /
        'epoch_2.pth', '--work-dir', tmp_path / 'test', '--out', predictions,
        '--cfg-options', *data_root_options(toy_root)
    ])
    printed = dict(
        re.findall(r'^(coco/\w+): ([-\d.]+)$', result.stdout, re.MULTILINE))
    for key in COCO_BOX_KEYS + ['coco/segm_mAP']:
        assert key in printed, result.stdout[-2000:]
    # tools/test.py evaluates the same weights on the same images as the
    # last validation of the training run.
    last_val = val_metrics(tiny_runs['baseline'])[2]
    assert float(printed['coco/bbox_mAP']) == pytest.approx(
        last_val['coco/bbox_mAP'], abs=1e-3)
    assert predictions.is_file() and predictions.stat().st_size > 0


def test_resume_continues_from_the_last_checkpoint(tiny_runs, toy_root,
                                                   tmp_path):
    import shutil
    work_dir = tmp_path / 'resumed'
    shutil.copytree(tiny_runs['gc'], work_dir)
    train(TOY_MASK_GC, work_dir, toy_root, 'train_cfg.max_epochs=3',
          '--resume')
    assert (work_dir / 'epoch_3.pth').is_file()
    assert sorted(val_metrics(work_dir)) == [1, 2, 3]
    checkpoint = torch.load(work_dir / 'epoch_3.pth', weights_only=False)
    # The optimizer state came back: SGD_GC's momentum buffers exist.
    assert checkpoint['optimizer']['state']


def test_unknown_optimizer_lists_mmgc_optimizers(toy_root, tmp_path):
    result = run_tool([
        PYTHON, 'tools/train.py', TOY_MASK, '--work-dir', tmp_path,
        '--cfg-options', 'optim_wrapper.optimizer.type=SGD_GX',
        *data_root_options(toy_root)
    ], check=False)
    assert result.returncode != 0
    assert "Unknown optimizer type 'SGD_GX'" in result.stderr
    for name in ('SGD_GC', 'SGD_GCC', 'Adam_GC', 'AdamW_GCC', 'Adagrad_GC'):
        assert name in result.stderr


def test_missing_dataset_error_from_train_tool(tmp_path):
    result = run_tool([
        PYTHON, 'tools/train.py', TOY_MASK, '--work-dir', tmp_path / 'w',
        '--cfg-options', *data_root_options(tmp_path / 'nowhere')
    ], check=False)
    assert result.returncode != 0
    assert 'python tools/generate_toy_data.py' in result.stderr


def test_dist_train_two_cpu_processes_keep_ranks_identical(
        toy_root, tmp_path, free_port):
    config = tmp_path / 'dist_toy.py'
    config.write_text(
        f"_base_ = '{TOY_FASTER_GC}'\n"
        "custom_imports = dict(imports=['mmgc', '_det_utils'], "
        'allow_failed_imports=False)\n'
        "custom_hooks = [dict(type='DumpRankParamsHook')]\n")
    work_dir = tmp_path / 'work'
    run_tool([
        'bash', 'tools/dist_train.sh', config, '2', '--work-dir', work_dir,
        '--cfg-options', 'env_cfg.dist_cfg.backend=gloo',
        *data_root_options(toy_root),
        *tiny_schedule_options(max_epochs=1, batch_size=2),
        'train_cfg.val_interval=100'
    ], env=dict(PYTHON=PYTHON, PORT=str(free_port), OMP_NUM_THREADS='1',
                PYTHONPATH=str(TESTS_DIR)))
    before = torch.load(work_dir / 'rank0_before.pth')
    after = [torch.load(work_dir / f'rank{r}_after.pth') for r in (0, 1)]
    assert after[0].keys() == after[1].keys() == before.keys()
    for name in after[0]:
        assert torch.equal(after[0][name], after[1][name]), name
    # 16 images, 2 per process: 4 steps, so the weights did change.
    changed = [n for n in before if not torch.equal(before[n], after[0][n])]
    assert len(changed) > len(before) // 2
    log = next(work_dir.glob('*/*.log')).read_text()
    assert 'Distributed training: True' in log
    assert 'GPU number: 2' in log  # mmengine's name for the world size

    # tools/dist_test.sh evaluates the checkpoint with 2 processes too (on
    # the same port: the training processes have ended); the metrics are
    # gathered and printed once.
    result = run_tool([
        'bash', 'tools/dist_test.sh', config, work_dir / 'epoch_1.pth', '2',
        '--work-dir', tmp_path / 'test', '--cfg-options',
        'env_cfg.dist_cfg.backend=gloo', *data_root_options(toy_root)
    ], env=dict(PYTHON=PYTHON, PORT=str(free_port), OMP_NUM_THREADS='1',
                PYTHONPATH=str(TESTS_DIR)))
    assert len(re.findall(r'^coco/bbox_mAP: ', result.stdout,
                          re.MULTILINE)) == 1


def _png_size(path: Path):
    header = path.read_bytes()[:24]
    assert header[:8] == b'\x89PNG\r\n\x1a\n', f'{path} is not a PNG'
    return struct.unpack('>II', header[16:24])


def test_compare_tool_on_finished_runs(tiny_runs, tmp_path):
    out_dir = tmp_path / 'compare'
    result = run_tool([
        PYTHON, 'tools/compare.py', tiny_runs['baseline'], tiny_runs['gc'],
        '--work-dir', out_dir
    ])
    lines = result.stdout.splitlines()
    # One block per metric set, each with the paper's columns and rows.
    for heading in ('Detection: COCO box AP (%)',
                    'Instance segmentation: COCO mask AP (%)'):
        start = lines.index(heading)
        assert lines[start + 1].split() == [
            'Method', 'AP', 'AP50', 'AP75', 'APs', 'APm', 'APl'
        ]
        assert [line.split()[0] for line in lines[start + 3:start + 6]] == [
            'w/o', 'w/', 'delta'
        ]
    box_rows = lines[lines.index('Detection: COCO box AP (%)') + 3:][:3]
    rows = dict(zip(('w/o GC', 'w/ GC', 'delta'), box_rows))

    table = json.loads((out_dir / 'comparison.json').read_text())
    box_ap = table['groups'][0]['columns'][0]
    assert box_ap['key'] == 'coco/bbox_mAP'
    baseline_final = val_metrics(tiny_runs['baseline'])[2]['coco/bbox_mAP']
    gc_final = val_metrics(tiny_runs['gc'])[2]['coco/bbox_mAP']
    assert box_ap['baseline'] == [pytest.approx(100 * baseline_final)]
    assert box_ap['candidate'] == [pytest.approx(100 * gc_final)]
    assert box_ap['delta'] == [pytest.approx(100 * (gc_final -
                                                    baseline_final))]
    # The printed cells are these numbers.
    first_cell = rows['w/o GC'].split()[2]
    assert first_cell == f'{100 * baseline_final:.1f}'

    for png in ('loss_curves.png', 'metrics_per_epoch.png'):
        width, height = _png_size(out_dir / png)
        assert width > 300 and height > 200
    assert (out_dir / 'comparison.md').read_text().count('|') > 20
    assert 'plots:' in result.stdout
