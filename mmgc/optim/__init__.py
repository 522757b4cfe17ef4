"""Optimizers with Gradient Centralization.

The GC operator is :mod:`mmgc.optim.gc_ops`; every optimizer calls it.

* The paper's optimizers (``SGD_GC``, ``Adam_GCC2``, ...): exact re-statements
  of the authors' first repository.
* ``GCSGD``, ``GCAdam``, ``GCAdamW``, ``GCRAdam``: torch's algorithms plus the
  per-group options ``use_gc``, ``gc_conv_only``, ``gc_loc``.
* ``Lookahead`` (wraps any optimizer) and ``Ranger`` (RAdam + Lookahead + GC).
"""
from .gc_adam import GCAdam, GCAdamW, gc_adam
from .gc_ops import (centralize, centralize_, foreach_centralize,
                     foreach_centralize_, gc_applies)
from .gc_radam import GCRAdam, gc_radam
from .gc_sgd import GCSGD, gc_sgd
from .lookahead import Lookahead
from .paper_adagrad import Adagrad_GC, Adagrad_GCC
from .paper_adam import (Adam_GC, Adam_GC2, Adam_GCC, Adam_GCC2, AdamW_GC,
                         AdamW_GC2, AdamW_GCC, AdamW_GCC2)
from .paper_sgd import SGD_GC, SGD_GCC, SGDW_GC, SGDW_GCC
from .ranger import Ranger

#: The optimizers of the paper's repository, by their registered names.
PAPER_OPTIMIZERS = (SGD_GC, SGD_GCC, SGDW_GC, SGDW_GCC, Adam_GC, Adam_GCC,
                    Adam_GC2, Adam_GCC2, AdamW_GC, AdamW_GCC, AdamW_GC2,
                    AdamW_GCC2, Adagrad_GC, Adagrad_GCC)

#: torch's algorithms with per-group GC options, Lookahead and Ranger.
GC_OPTIMIZERS = (GCSGD, GCAdam, GCAdamW, GCRAdam, Lookahead, Ranger)

__all__ = [cls.__name__ for cls in PAPER_OPTIMIZERS + GC_OPTIMIZERS] + [
    'PAPER_OPTIMIZERS', 'GC_OPTIMIZERS', 'centralize', 'centralize_',
    'foreach_centralize', 'foreach_centralize_', 'gc_applies', 'gc_sgd',
    'gc_adam', 'gc_radam'
]
