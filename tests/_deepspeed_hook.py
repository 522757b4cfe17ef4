"""Imported by the DeepSpeed training processes that
tests/test_deepspeed_training.py starts (through the config's
``custom_imports``)."""
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class DumpFP32MastersHook(Hook):
    """Saves every trainable weight, whole, from ZeRO's fp32 master
    partitions before and after training."""

    def _dump(self, runner, stage: str) -> None:
        from deepspeed.utils import safe_get_full_fp32_param
        engine = runner.model.model  # MMDeepSpeedEngineWrapper -> engine
        # A collective: every rank gathers every weight.
        params = {
            name: safe_get_full_fp32_param(p).detach().clone()
            for name, p in engine.module.named_parameters()
            if p.requires_grad
        }
        if get_rank() == 0:
            torch.save(params, f'{runner.work_dir}/full_{stage}.pth')

    def before_train(self, runner) -> None:
        self._dump(runner, 'before')

    def after_train(self, runner) -> None:
        self._dump(runner, 'after')
