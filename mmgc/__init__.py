"""mmgc: Gradient Centralization for OpenMMLab.

``import mmgc`` registers all of mmgc's optimizers, optim-wrapper
constructors, hooks, models, datasets and metrics (see :mod:`mmgc.register`)
and lets mmengine resume its checkpoints on torch >= 2.6
(see :mod:`mmgc.compat`).
"""
__version__ = '0.1.0'

from .compat import allow_mmengine_checkpoints  # noqa: E402

allow_mmengine_checkpoints()

from . import register  # noqa: E402,F401
from .optim import GC_OPTIMIZERS, PAPER_OPTIMIZERS  # noqa: E402

#: Names of every optimizer mmgc registers in mmengine's OPTIMIZERS.
MMGC_OPTIMIZERS = tuple(cls.__name__
                        for cls in PAPER_OPTIMIZERS + GC_OPTIMIZERS)
