"""mmgc: Gradient Centralization for OpenMMLab.

``import mmgc`` registers mmgc's optimizers, optim-wrapper constructor,
hook, CPU DDP wrapper and FSDP strategy (see :mod:`mmgc.register`) and lets
mmengine resume its checkpoints on torch >= 2.6 (see :mod:`mmgc.compat`).
It imports neither mmdet, mmcv nor mmpretrain: the ReID parts are registered
by ``import mmgc.reid``, the classification parts by
``import mmgc.classification`` (the configs that use them import them).
"""
__version__ = '0.1.0'

from .compat import allow_mmengine_checkpoints  # noqa: E402
from .register import register_core  # noqa: E402

register_core()
# After the registrations, which load the mmengine modules it needs.
allow_mmengine_checkpoints()

from .optim import GC_OPTIMIZERS, PAPER_OPTIMIZERS  # noqa: E402

#: Names of every optimizer mmgc registers in mmengine's OPTIMIZERS.
MMGC_OPTIMIZERS = tuple(cls.__name__
                        for cls in PAPER_OPTIMIZERS + GC_OPTIMIZERS)
