"""Every registration mmgc makes, in one place.

Importing :mod:`mmgc` runs this module, so a config needs only
``custom_imports=dict(imports=['mmgc'], allow_failed_imports=False)``.
Optimizers and engine parts go into mmengine's root registries (mmdet's
scoped lookups fall through to them); detection and ReID parts go into
mmdet's registries, which exist only with the ``detection``/``reid`` extras;
the CIFAR DenseNet goes into mmpretrain's.
"""
from mmengine.registry import OPTIMIZERS

# --- paper optimizers (GC repository family) -------------------------------
from mmgc.optim import PAPER_OPTIMIZERS  # noqa: E402

for _optimizer in PAPER_OPTIMIZERS:
    OPTIMIZERS.register_module(module=_optimizer)

# --- GC-enabled general optimizers, Lookahead, Ranger, constructor, hook ----
from mmengine.registry import HOOKS, OPTIM_WRAPPER_CONSTRUCTORS  # noqa: E402

from mmgc.engine.hooks import GCStatsHook  # noqa: E402
from mmgc.engine.optim_wrapper_constructor import \
    GCOptimWrapperConstructor  # noqa: E402
from mmgc.optim import GC_OPTIMIZERS  # noqa: E402

for _optimizer in GC_OPTIMIZERS:
    OPTIMIZERS.register_module(module=_optimizer)
OPTIM_WRAPPER_CONSTRUCTORS.register_module(module=GCOptimWrapperConstructor)
HOOKS.register_module(module=GCStatsHook)

# --- detection tools: DDP wrapper for CPU-only torchrun jobs ---------------
from mmengine.registry import MODEL_WRAPPERS  # noqa: E402

from mmgc.engine import CPUDistributedDataParallel  # noqa: E402

MODEL_WRAPPERS.register_module(module=CPUDistributedDataParallel)

# --- sharded training: FSDPStrategy with exact GC (FlexibleRunner) ---------
# FlexibleRunner and its strategies exist from mmengine 0.8.
from mmgc.compat import mmengine_has_strategies  # noqa: E402

if mmengine_has_strategies():
    from mmengine.registry import STRATEGIES

    from mmgc.engine.fsdp import GCFSDPStrategy

    STRATEGIES.register_module(module=GCFSDPStrategy)

# --- ReID (mmdet / mmpretrain registries) ----------------------------------
# Needs the "reid" extra (mmdet >= 3.1 + mmpretrain); without it there is no
# ReID model to extend, and importing mmgc.reid (as the ReID configs do) says
# what to install.
import importlib.util  # noqa: E402

from mmgc.compat import installed_version, mmdet_reid_problem  # noqa: E402

if mmdet_reid_problem(installed_version('mmdet')) is None:
    from mmdet.registry import DATA_SAMPLERS as _MMDET_DATA_SAMPLERS
    from mmdet.registry import DATASETS as _MMDET_DATASETS
    from mmdet.registry import METRICS as _MMDET_METRICS
    from mmdet.registry import MODELS as _MMDET_MODELS

    from mmgc import reid as _reid

    _MMDET_MODELS.register_module(module=_reid.BNNeckHead)
    _MMDET_MODELS.register_module(module=_reid.CenterLoss)
    _MMDET_DATASETS.register_module(module=_reid.Market1501Dataset)
    _MMDET_DATA_SAMPLERS.register_module(module=_reid.PKBatchSampler)
    _MMDET_METRICS.register_module(module=_reid.QueryGalleryReIDMetric)

# --- classification (mmpretrain registry) -----------------------------------
# Needs mmpretrain; the classification configs run under its default scope.
if importlib.util.find_spec('mmpretrain') is not None:
    from mmpretrain.registry import MODELS as _MMPRETRAIN_MODELS

    from mmgc.classification import DenseNetCIFAR

    _MMPRETRAIN_MODELS.register_module(module=DenseNetCIFAR)
