"""The toy detector trained with sharded weights through tools/train.py on
two gloo processes on the CPU, and the check that GC kept every output
slice's sum: shared by tests/test_sharded_training.py (FSDP) and
tests/test_deepspeed_training.py (DeepSpeed ZeRO).

The hooks below run in the training processes those tests start, which
import this module through the config's ``custom_imports``.
"""
from pathlib import Path

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from _det_utils import (PYTHON, TESTS_DIR, data_root_options,
                        make_tiny_toy_data, run_tool, tiny_schedule_options)


class _DumpWholeWeightsHook(Hook):
    """Saves every trainable weight, whole, before and after training, to
    ``full_before.pth`` and ``full_after.pth`` in the work dir (rank 0)."""

    def _whole_weights(self, runner) -> dict:
        """name -> weight; a collective: every rank calls it."""
        raise NotImplementedError

    def _dump(self, runner, stage: str) -> None:
        params = self._whole_weights(runner)
        if get_rank() == 0:
            torch.save(params, f'{runner.work_dir}/full_{stage}.pth')

    def before_train(self, runner) -> None:
        self._dump(runner, 'before')

    def after_train(self, runner) -> None:
        self._dump(runner, 'after')


@HOOKS.register_module()
class DumpFullParamsHook(_DumpWholeWeightsHook):
    """The unsharded weights of a model FSDP wraps."""

    def _whole_weights(self, runner) -> dict:
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
        model = runner.model
        with FSDP.summon_full_params(model):
            return {
                name.replace('_fsdp_wrapped_module.', ''):
                p.detach().clone()
                for name, p in model.named_parameters() if p.requires_grad
            }


@HOOKS.register_module()
class DumpFP32MastersHook(_DumpWholeWeightsHook):
    """The weights gathered from ZeRO's fp32 master partitions."""

    def _whole_weights(self, runner) -> dict:
        from deepspeed.utils import safe_get_full_fp32_param
        engine = runner.model.model  # MMDeepSpeedEngineWrapper -> engine
        return {
            name: safe_get_full_fp32_param(p).detach().clone()
            for name, p in engine.module.named_parameters()
            if p.requires_grad
        }


def train_toy_detector(tmp_path: Path, base_config: Path, hook: str,
                       port: int) -> Path:
    """One epoch of the tiny toy data through tools/dist_train.sh on two
    gloo processes, with ``hook`` (one of the hooks above) saving the whole
    weights; returns the work dir."""
    data = make_tiny_toy_data(tmp_path / 'data')
    config = tmp_path / 'toy_config.py'
    config.write_text(
        f"_base_ = '{base_config}'\n"
        "custom_imports = dict(imports=['mmgc', '_sharded_toy_runs'], "
        'allow_failed_imports=False)\n'
        f"custom_hooks = [dict(type='{hook}')]\n")
    work_dir = tmp_path / 'work'
    run_tool([
        'bash', 'tools/dist_train.sh', config, '2', '--work-dir', work_dir,
        '--cfg-options', 'env_cfg.dist_cfg.backend=gloo',
        *data_root_options(data),
        *tiny_schedule_options(max_epochs=1, batch_size=2),
        'train_cfg.val_interval=100',
        # No warm-up: full-size steps, so GC's effect is far above rounding.
        'param_scheduler.0.start_factor=1.0',
    ], env=dict(PYTHON=PYTHON, PORT=str(port), OMP_NUM_THREADS='1',
                PYTHONPATH=str(TESTS_DIR)))
    return work_dir


def assert_slice_sums_kept(work_dir: Path, max_drift: float) -> float:
    """Checks the weights a run of :func:`train_toy_detector` saved: most
    weights moved, and each output slice kept its sum to within
    ``max_drift`` of the slice's movement; returns the largest drift seen.

    SGD_GC centralizes every update of a weight (decay included), so each
    output slice keeps its sum (paper, Theorem 4.1), on the sharded pieces
    too; without GC nothing holds them (a slice's gradient has a mean).
    """
    before = torch.load(work_dir / 'full_before.pth')
    after = torch.load(work_dir / 'full_after.pth')
    weights = [n for n, p in before.items() if p.dim() > 1]
    assert weights
    changed = [n for n in weights if not torch.equal(before[n], after[n])]
    assert len(changed) > len(weights) // 2
    worst_sum, worst_move = 0.0, 0.0
    for n in changed:
        dims = tuple(range(1, before[n].dim()))
        a, b = after[n].double(), before[n].double()
        drift = (a.sum(dims) - b.sum(dims)).abs().max().item()
        move = (a - b).abs().sum(dims).max().item()
        worst_sum = max(worst_sum, drift / move)
        worst_move = max(worst_move, move)
    assert worst_move > 1e-4
    assert worst_sum < max_drift, worst_sum
    return worst_sum
