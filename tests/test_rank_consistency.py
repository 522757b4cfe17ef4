"""Two gloo processes whose configs differ only in the optimizer (rank 0
SGD_GC, rank 1 SGD, as a rank-dependent ``--cfg-options`` would make them):
both stop before the first iteration, with a message that names both
optimizers, under DDP (mmengine's Runner with mmgc's CPU DDP wrapper) and
under FSDP (FlexibleRunner with GCFSDPStrategy). Without the check, DDP
ends with different weights on the two ranks and exit code 0, and FSDP
hangs in the first iteration.

The runs are set up as tools/train.py sets them up (its hooks, the CPU
torchrun setup, the Runner it builds), on the tiny classifier of
tests/_tiny_runs.py.
"""
from pathlib import Path

import pytest
import torch
import torch.distributed as torch_dist
from mmengine.config import Config

from mmgc.compat import mmengine_has_strategies
from mmgc.engine.tool_setup import (add_training_hooks, build_runner,
                                    setup_cpu_distributed)
import _tiny_runs  # noqa: F401  (registers the tiny model and data)
from _process_group import announce_ranks
from _torch_support import skip_unless_fsdp1_wraps_on_cpu

pytestmark = [pytest.mark.optim, pytest.mark.sharded]

# A hang (the failure this guards against under FSDP) fails the test after
# this long instead of holding up the suite.
TIMEOUT_S = 150


def tool_config(work_dir: str, optimizer: str, sharded: bool) -> Config:
    cfg = Config(dict(
        default_scope='mmengine',
        model=dict(type='TinyClassifier'),
        work_dir=work_dir,
        train_dataloader=dict(
            dataset=dict(type='TinyImages'),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=2, num_workers=0,
            collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=True, max_epochs=1),
        optim_wrapper=dict(
            optimizer=dict(type=optimizer, lr=0.1, momentum=0.9,
                           weight_decay=1e-4)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook',
                                           interval=1)),
        launcher='pytorch',
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        randomness=dict(seed=0),
        log_level='WARNING'))
    if sharded:
        cfg.runner_type = 'FlexibleRunner'
        cfg.strategy = dict(type='GCFSDPStrategy')
    return cfg


def _worker(rank, world_size, port, work_dir, optimizers, sharded, out):
    announce_ranks(rank, world_size, port)
    cfg = tool_config(work_dir, optimizers[rank], sharded)
    add_training_hooks(cfg)  # as tools/train.py
    setup_cpu_distributed(cfg)
    try:
        runner = build_runner(cfg)
        runner.train()
        model = runner.model
        if sharded:
            from torch.distributed.fsdp import FullyShardedDataParallel
            with FullyShardedDataParallel.summon_full_params(model):
                weights = {n: p.detach().clone()
                           for n, p in model.named_parameters()}
        else:
            weights = {n: p.detach().clone()
                       for n, p in model.module.named_parameters()}
        result = dict(error=None, weights=weights)
    except Exception as error:  # noqa: BLE001  (the test reads it)
        result = dict(error=f'{type(error).__name__}: {error}', weights=None)
    finally:
        torch_dist.destroy_process_group()
    torch.save(result, Path(work_dir) / f'rank{rank}.pth')
    if rank == 0:
        out.put(True)


def run(run_two_ranks, tmp_path, optimizers, sharded):
    run_two_ranks(_worker, str(tmp_path), optimizers, sharded,
                  timeout=TIMEOUT_S)
    return [torch.load(tmp_path / f'rank{r}.pth') for r in (0, 1)]


needs_flexible_runner = pytest.mark.skipif(
    not mmengine_has_strategies(),
    reason='FlexibleRunner and its strategies came with mmengine 0.8')


@pytest.mark.parametrize('sharded', [
    False, pytest.param(True, marks=needs_flexible_runner)
], ids=['DDP', 'FSDP'])
def test_ranks_with_different_optimizers_stop_on_every_rank(
        run_two_ranks, tmp_path, sharded):
    if sharded:
        skip_unless_fsdp1_wraps_on_cpu()
    results = run(run_two_ranks, tmp_path, ('SGD_GC', 'SGD'), sharded)
    for rank, result in enumerate(results):
        error = result['error']
        assert error is not None, f'rank {rank} trained on'
        assert error.startswith(
            'RankMismatchError: The 2 ranks of this run built different '
            'optimizers (rank 0 built SGD_GC; rank 1 built SGD).'), error
        assert ('  group 0 GC: rank 0 GC (ndim > 1) on the gradient, sign '
                '1.0, L2 folded in 0.0001; rank 1 no GC') in error
        assert '--cfg-options or environment variables' in error
    assert results[0]['error'] == results[1]['error']


def test_ranks_with_the_same_optimizer_train_in_step(run_two_ranks,
                                                     tmp_path):
    """No false alarm: the same config on both ranks trains, and DDP keeps
    the ranks' weights equal."""
    rank0, rank1 = run(run_two_ranks, tmp_path, ('SGD_GC', 'SGD_GC'), False)
    assert rank0['error'] is None and rank1['error'] is None
    for name, weight in rank0['weights'].items():
        assert torch.equal(weight, rank1['weights'][name]), name
