"""mmengine's FSDPStrategy with exact Gradient Centralization.

mmengine's ``FSDPStrategy`` wraps the model in torch's FSDP1 with
``use_orig_params=True``; the optimizer then gets 1-D pieces of flat buffers
and could not centralize anything. :class:`GCFSDPStrategy` tells mmgc the
original shapes before the optimizer is built
(:func:`mmgc.optim.sharded_gc.register_fsdp_model`), so every mmgc optimizer
and ``GCOptimWrapperConstructor`` centralize the pieces exactly. It also runs
on CPUs (torchrun + gloo), where mmengine would hand FSDP the ``LOCAL_RANK``
as a CUDA device.
"""
import torch
from mmengine._strategy import FSDPStrategy

from mmgc.optim.gc_coverage import check_gc_at_build
from mmgc.optim.sharded_gc import register_fsdp_model

__all__ = ['GCFSDPStrategy']


class GCFSDPStrategy(FSDPStrategy):
    """``FSDPStrategy`` that makes GC exact on the sharded parameters.

    Use it in a FlexibleRunner config exactly like mmengine's::

        runner_type = 'FlexibleRunner'
        strategy = dict(type='GCFSDPStrategy',
                        model_wrapper=dict(auto_wrap_policy=...))

    Without CUDA, FSDP is placed on the CPU (start the job with
    ``tools/dist_train.sh ... --cfg-options env_cfg.dist_cfg.backend=gloo``).
    """

    def _wrap_model(self, model):
        if not torch.cuda.is_available():
            # mmengine passes LOCAL_RANK as the FSDP device; FSDP1 then looks
            # for an accelerator.
            if self.model_wrapper is None:
                self.model_wrapper = dict(type='MMFullyShardedDataParallel')
            self.model_wrapper.setdefault('device_id', torch.device('cpu'))
        return super()._wrap_model(model)

    def build_optim_wrapper(self, optim_wrapper, model=None):
        if model is not None:
            register_fsdp_model(model)
        built = super().build_optim_wrapper(optim_wrapper, model)
        # An optimizer from elsewhere that answers the placement protocol,
        # built by a plain constructor, gets exact GC too (mmgc's own
        # optimizers have checked themselves: this does nothing for them).
        wrappers = (built.optim_wrappers.values() if hasattr(
            built, 'optim_wrappers') else [built])
        for wrapper in wrappers:
            check_gc_at_build(wrapper.optimizer)
        return built
