"""The toy detector trained under DeepSpeed ZeRO-2 through tools/train.py:
FlexibleRunner + GCDeepSpeedStrategy + SGD_GC on 2 CPU processes."""

import pytest
import torch

from _det_utils import (PYTHON, REPO_ROOT, TESTS_DIR, data_root_options,
                        make_tiny_toy_data, run_tool, tiny_schedule_options)

# A toy detector (mmdet) trained by FlexibleRunner (mmengine >= 0.8) with
# DeepSpeed (the deepspeed extra).
pytestmark = [
    pytest.mark.sharded, pytest.mark.detection, pytest.mark.deepspeed
]

TOY_ZERO2 = (REPO_ROOT /
             'configs/sharded/faster-rcnn_toy-r18_fpn_gc-zero2_1x_toycoco.py')


def test_zero2_toy_detector_trains_with_exact_gc(tmp_path, free_port):
    data = make_tiny_toy_data(tmp_path / 'data')
    config = tmp_path / 'zero2_toy.py'
    config.write_text(
        f"_base_ = '{TOY_ZERO2}'\n"
        "custom_imports = dict(imports=['mmgc', '_deepspeed_hook'], "
        'allow_failed_imports=False)\n'
        "custom_hooks = [dict(type='DumpFP32MastersHook')]\n")
    work_dir = tmp_path / 'work'
    run_tool([
        'bash', 'tools/dist_train.sh', config, '2', '--work-dir', work_dir,
        '--cfg-options', 'env_cfg.dist_cfg.backend=gloo',
        *data_root_options(data),
        *tiny_schedule_options(max_epochs=1, batch_size=2),
        'train_cfg.val_interval=100',
        # No warm-up: full-size steps, so GC's effect is far above rounding.
        'param_scheduler.0.start_factor=1.0',
    ], env=dict(PYTHON=PYTHON, PORT=str(free_port), OMP_NUM_THREADS='1',
                PYTHONPATH=str(TESTS_DIR)))
    log = next(work_dir.glob('*/*.log')).read_text()
    assert 'GCDeepSpeedStrategy' in log
    # DeepSpeed's checkpoint layout: a folder per checkpoint.
    assert (work_dir / 'epoch_1.pth').is_dir()
    before = torch.load(work_dir / 'full_before.pth')
    after = torch.load(work_dir / 'full_after.pth')
    weights = [n for n, p in before.items() if p.dim() > 1]
    assert weights
    changed = [n for n in weights if not torch.equal(before[n], after[n])]
    assert len(changed) > len(weights) // 2
    # SGD_GC centralizes every update of a weight (decay included), so each
    # output slice keeps its sum (paper, Theorem 4.1) on ZeRO's partitions
    # too; without GC nothing holds them (a slice's gradient has a mean).
    worst_sum, worst_move = 0.0, 0.0
    for n in changed:
        dims = tuple(range(1, before[n].dim()))
        a, b = after[n].double(), before[n].double()
        drift = (a.sum(dims) - b.sum(dims)).abs().max().item()
        move = (a - b).abs().sum(dims).max().item()
        worst_sum = max(worst_sum, drift / move)
        worst_move = max(worst_move, move)
    assert worst_move > 1e-4
    # float32 masters round every element at every step.
    assert worst_sum < 1e-2, worst_sum
    print(f'\nmax slice-sum drift / movement: {worst_sum:.2g}')
