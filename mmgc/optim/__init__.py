"""Optimizers with Gradient Centralization.

The GC operator is :mod:`mmgc.optim.gc_ops`; every optimizer calls it.
"""
from .gc_ops import (centralize, centralize_, foreach_centralize,
                     foreach_centralize_, gc_applies)
from .paper_adagrad import Adagrad_GC, Adagrad_GCC
from .paper_adam import (Adam_GC, Adam_GC2, Adam_GCC, Adam_GCC2, AdamW_GC,
                         AdamW_GC2, AdamW_GCC, AdamW_GCC2)
from .paper_sgd import SGD_GC, SGD_GCC, SGDW_GC, SGDW_GCC

#: The optimizers of the paper's repository, by their registered names.
PAPER_OPTIMIZERS = (SGD_GC, SGD_GCC, SGDW_GC, SGDW_GCC, Adam_GC, Adam_GCC,
                    Adam_GC2, Adam_GCC2, AdamW_GC, AdamW_GCC, AdamW_GC2,
                    AdamW_GCC2, Adagrad_GC, Adagrad_GCC)

__all__ = [cls.__name__ for cls in PAPER_OPTIMIZERS] + [
    'PAPER_OPTIMIZERS', 'centralize', 'centralize_', 'foreach_centralize',
    'foreach_centralize_', 'gc_applies'
]
