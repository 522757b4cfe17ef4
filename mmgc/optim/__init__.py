"""Optimizers with Gradient Centralization.

* ``gc_ops.py``: the GC operator, the only implementation; every kernel
  calls it.
* ``functional/``: the kernels (the math of one step), one module per
  algorithm family: ``sgd``, ``adam``, ``radam``, ``adagrad``.
* ``gc_sgd.py``, ``gc_adam.py``, ``gc_radam.py``, ``paper_adagrad.py``: one
  class per algorithm family (``GCSGD``, ``GCAdam``/``GCAdamW``,
  ``GCRAdam``, Adagrad): torch's algorithms plus the per-group options
  ``use_gc``, ``gc_conv_only``, ``gc_loc``. The paper's optimizers
  (``SGD_GC``, ``Adam_GCC2``, ...; exact re-statements of the authors' first
  repository) are specializations beside their family class that fix the
  GC rule, its location, the decay mode and the arithmetic.
* ``gc_group.py``: what the families share (building from the family's
  description, the GC options, the placement answer); ``_validation.py``:
  the hyper-parameter descriptions and the checks applied at every entry.
* ``lookahead.py``, ``ranger.py``: Lookahead around any optimizer; Ranger
  (RAdam + Lookahead + GC).
* ``gc_wrapped.py``: GC for any other optimizer (``gc_wrapped(AdamW)``).
* ``placement.py``: the placement protocol, how every optimizer above says
  per param group whether it applies GC, under which rule and where in the
  step (``gc_placement(group)``); everything else asks it.
* ``gc_coverage.py``: which tensors an optimizer centralizes, and the checks
  when it is built.
* ``sharded_gc.py``: exact GC on FSDP1's flat pieces (layouts, step hooks).
"""
from . import functional
from .gc_adam import (Adam_GC, Adam_GC2, Adam_GCC, Adam_GCC2, AdamW_GC,
                      AdamW_GC2, AdamW_GCC, AdamW_GCC2, GCAdam, GCAdamW)
from .gc_coverage import (GCEmptyWarning, TensorCoverage, check_gc_at_build,
                          gc_coverage)
from .gc_ops import (centralize, centralize_, foreach_centralize,
                     foreach_centralize_, gc_applies)
from .gc_radam import GCRAdam
from .gc_sgd import GCSGD, SGD_GC, SGD_GCC, SGDW_GC, SGDW_GCC
from .gc_wrapped import gc_wrapped
from .lookahead import Lookahead
from .paper_adagrad import Adagrad_GC, Adagrad_GCC
from .placement import (GCPlacement, applies_gc_itself, gc_placement_of,
                        gc_rule_of)
from .ranger import Ranger

#: The optimizers of the paper's repository, by their registered names.
PAPER_OPTIMIZERS = (SGD_GC, SGD_GCC, SGDW_GC, SGDW_GCC, Adam_GC, Adam_GCC,
                    Adam_GC2, Adam_GCC2, AdamW_GC, AdamW_GCC, AdamW_GC2,
                    AdamW_GCC2, Adagrad_GC, Adagrad_GCC)

#: torch's algorithms with per-group GC options, Lookahead and Ranger.
GC_OPTIMIZERS = (GCSGD, GCAdam, GCAdamW, GCRAdam, Lookahead, Ranger)

__all__ = [cls.__name__ for cls in PAPER_OPTIMIZERS + GC_OPTIMIZERS] + [
    'PAPER_OPTIMIZERS', 'GC_OPTIMIZERS', 'centralize', 'centralize_',
    'foreach_centralize', 'foreach_centralize_', 'gc_applies', 'gc_wrapped',
    'gc_rule_of', 'functional', 'GCPlacement', 'gc_placement_of',
    'applies_gc_itself', 'gc_coverage', 'TensorCoverage', 'check_gc_at_build',
    'GCEmptyWarning'
]
