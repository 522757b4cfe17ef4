"""Imported by the FSDP training processes that tests/test_sharded_training.py
starts (through the config's ``custom_imports``)."""
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class DumpFullParamsHook(Hook):
    """Saves the unsharded trainable weights before and after training."""

    def _dump(self, runner, stage: str) -> None:
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
        model = runner.model
        with FSDP.summon_full_params(model):
            params = {
                name.replace('_fsdp_wrapped_module.', ''):
                p.detach().clone()
                for name, p in model.named_parameters() if p.requires_grad
            }
        if get_rank() == 0:
            torch.save(params, f'{runner.work_dir}/full_{stage}.pth')

    def before_train(self, runner) -> None:
        self._dump(runner, 'before')

    def after_train(self, runner) -> None:
        self._dump(runner, 'after')
