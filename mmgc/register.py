"""Every registration mmgc makes, in one place.

Each group of parts is registered by the import that needs it, so that
``import mmgc`` loads mmengine and torch only, never mmdet, mmcv or
mmpretrain:

- :func:`register_core`, run by ``import mmgc``: the optimizers, the
  optim-wrapper constructor, the hooks, the DDP wrapper for CPU-only
  torchrun jobs and the FSDP and DeepSpeed strategies, all in mmengine's
  root registries (mmdet's and mmpretrain's scoped lookups fall through to
  them), so any config needs only
  ``custom_imports=dict(imports=['mmgc'], allow_failed_imports=False)``;
- :func:`register_reid`, run by ``import mmgc.reid``: the ReID parts, in
  mmdet's registries (the ReID configs import ``mmgc.reid``);
- :func:`register_classification`, run by ``import mmgc.classification``:
  DenseNetCIFAR and ResNeXtCIFAR, in mmpretrain's ``MODELS`` (the DenseNet
  and ResNeXt configs import ``mmgc.classification``).

The part packages pass their classes in, so this module imports neither
them nor mmdet and mmpretrain at module level. Registering again is a
no-op.
"""
from mmengine.registry import (HOOKS, MODEL_WRAPPERS,
                               OPTIM_WRAPPER_CONSTRUCTORS, OPTIMIZERS,
                               Registry)

from mmgc.compat import mmengine_deepspeed_problem, mmengine_has_strategies
from mmgc.engine import (CPUDistributedDataParallel,
                         GCOptimWrapperConstructor, GCStatsHook,
                         GradientStatsHook)
from mmgc.engine.checkpoint import (AtomicCheckpointHook, DeletePreviousRunHook,
                                   ResumedOptimizerCheckHook, StrictLoadHook)
from mmgc.engine.consistency import OptimizerConsistencyHook
from mmgc.engine.random_state import RandomStateHook
from mmgc.optim import GC_OPTIMIZERS, PAPER_OPTIMIZERS

__all__ = ['register_core', 'register_reid', 'register_classification']


def _qualified_name(obj) -> str:
    return f'{obj.__module__}.{obj.__qualname__}'


def _register(registry: Registry, cls: type) -> None:
    """Register ``cls`` under its class name.

    mmengine refuses a name that is taken; here registering the same class
    again is a no-op, and a class re-created by reloading its module
    replaces the old one. A different class that holds the name is an
    error, not silently overridden.
    """
    name = cls.__name__
    holder = registry.module_dict.get(name)
    if holder is cls:
        return
    if holder is not None and _qualified_name(holder) != _qualified_name(cls):
        raise KeyError(
            f"{registry.scope}'s {registry.name} registry already holds "
            f'{name} ({_qualified_name(holder)}), so mmgc cannot register '
            f'its {_qualified_name(cls)} under that name.')
    registry.register_module(module=cls, force=holder is not None)


def register_core() -> None:
    """The optimizers, constructor, hooks, CPU DDP wrapper and the FSDP and
    DeepSpeed strategies, in mmengine's root registries. Needs mmengine and
    torch only (DeepSpeed only to build GCDeepSpeedStrategy)."""
    for optimizer in tuple(PAPER_OPTIMIZERS) + tuple(GC_OPTIMIZERS):
        _register(OPTIMIZERS, optimizer)
    _register(OPTIM_WRAPPER_CONSTRUCTORS, GCOptimWrapperConstructor)
    _register(HOOKS, GCStatsHook)
    _register(HOOKS, GradientStatsHook)
    for hook in (AtomicCheckpointHook, StrictLoadHook,
                 ResumedOptimizerCheckHook, DeletePreviousRunHook,
                 RandomStateHook, OptimizerConsistencyHook):
        _register(HOOKS, hook)
    _register(MODEL_WRAPPERS, CPUDistributedDataParallel)

    # FlexibleRunner and its strategies exist from mmengine 0.8; fsdp.py
    # and deepspeed.py import them, so they are imported only when they are
    # there. deepspeed.py needs no DeepSpeed to import (mmengine's strategy
    # module imports DeepSpeed where it is installed, whoever imports it).
    if mmengine_has_strategies():
        from mmengine.registry import STRATEGIES

        from mmgc.engine.fsdp import GCFSDPStrategy
        _register(STRATEGIES, GCFSDPStrategy)
        problem = mmengine_deepspeed_problem()
        if problem is None:
            from mmgc.engine.deepspeed import GCDeepSpeedStrategy
            _register(STRATEGIES, GCDeepSpeedStrategy)
        else:
            # A config that names it gets the reason, not "not in registry".
            _register(STRATEGIES,
                      unavailable_part('GCDeepSpeedStrategy', problem))


def unavailable_part(name: str, problem: str) -> type:
    """A class named ``name`` that cannot be built: building it raises
    RuntimeError with ``problem``, which says what to install."""

    def refuse(self, *args, **kwargs):
        raise RuntimeError(f'{name} cannot be built in this environment: '
                           f'{problem}')

    return type(name, (), dict(__init__=refuse, __module__=__name__,
                               __doc__=f'Unavailable here: {problem}'))


def register_reid(*, head: type, center_loss: type, dataset: type,
                  sampler: type, metric: type) -> None:
    """The ReID parts, in mmdet's registries (mmdet >= 3.1, which
    :mod:`mmgc.reid` checks before calling this)."""
    # Imported here: mmdet imports mmcv, which ``import mmgc`` must not.
    from mmdet.registry import DATA_SAMPLERS, DATASETS, METRICS, MODELS

    _register(MODELS, head)
    _register(MODELS, center_loss)
    _register(DATASETS, dataset)
    _register(DATA_SAMPLERS, sampler)
    _register(METRICS, metric)


def register_classification(*, densenet_cifar: type,
                            resnext_cifar: type) -> None:
    """The CIFAR DenseNet and ResNeXt, in mmpretrain's ``MODELS`` (the
    classification configs run under mmpretrain's default scope)."""
    # Imported here: ``import mmgc`` must not import mmpretrain.
    from mmpretrain.registry import MODELS

    _register(MODELS, densenet_cifar)
    _register(MODELS, resnext_cifar)
