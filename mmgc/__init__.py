"""mmgc: Gradient Centralization for OpenMMLab.

``import mmgc`` registers all of mmgc's optimizers, optim-wrapper
constructors, hooks, models, datasets and metrics.
"""
__version__ = '0.1.0'

from .compat import allow_mmengine_checkpoints  # noqa: E402

allow_mmengine_checkpoints()

from . import register  # noqa: E402,F401
