"""SGD with Gradient Centralization: ``GCSGD`` and the paper's ``SGD_GC``,
``SGD_GCC``, ``SGDW_GC`` and ``SGDW_GCC``.

The algorithm is torch's SGD; GC centralizes the descent direction after L2
decay is added and before momentum (for SGD, centralizing the gradient or the
final update is the same in exact arithmetic, so there is no ``gc_loc``).
The math is the SGD kernel, :func:`mmgc.optim.functional.sgd`, with a
single-tensor and a multi-tensor (``foreach``) path. With ``use_gc=False``
every operation is torch's SGD (single-tensor path for ``foreach=False``,
foreach path for ``foreach=True``), so the result is bit-identical on CPU,
and the state layout (``momentum_buffer``) is torch's: checkpoints move
between torch's SGD and every class here.

The paper's optimizers are ``GCSGD`` with what the paper fixed:

* ``SGD_GC`` / ``SGD_GCC``: GC on conv and fc weights (``ndim > 1``) / on
  conv weights only (``ndim > 3``); L2 decay is added to the gradient first,
  then the sum is centralized (the decay term is centralized too), then
  momentum;
* ``SGDW_GC`` / ``SGDW_GCC``: the gradient alone is centralized; decay is
  decoupled and applied after the step to the weight as it was before it.
"""
from typing import Optional

from torch.optim import SGD
from torch.optim.optimizer import required

from . import functional as F
from ._validation import (HyperSpec, flag, nesterov_needs_momentum, number,
                          off, optional_flag)
from .gc_group import GCGroupMixin, as_float
from .placement import kernel_gc_args

__all__ = ['GCSGD', 'SGD_GC', 'SGD_GCC', 'SGDW_GC', 'SGDW_GCC']

#: The SGD family's hyper-parameters, checked at every entry.
SGD_HYPERPARAMETERS = HyperSpec(
    dict(lr=number(),
         momentum=number(high=1.0, note='0.9 is usual'),
         dampening=number(),
         weight_decay=number(),
         nesterov=flag(),
         use_gc=flag(),
         gc_conv_only=flag(),
         decoupled_weight_decay=flag(),
         maximize=flag(),
         foreach=optional_flag(),
         differentiable=off('the GC kernels run under no_grad'),
         fused=off('a fused kernel updates the weights in one launch and, '
                   'under AMP, receives gradients still multiplied by the '
                   'loss scale, so there is no unscaled gradient to '
                   'centralize')),
    combinations=(nesterov_needs_momentum, ))


class GCSGD(GCGroupMixin, SGD):
    """SGD (optionally with momentum / Nesterov) with GC.

    Args:
        params: Parameters or param groups; a group may set ``use_gc`` and
            ``gc_conv_only`` for itself.
        lr, momentum, dampening, weight_decay, nesterov, maximize: as in
            :class:`torch.optim.SGD` (``lr`` defaults to 1e-3).
        use_gc (bool): Centralize weights with ``ndim > 1``. Default True.
        gc_conv_only (bool): Only conv weights (``ndim > 3``). Default False.
        decoupled_weight_decay (bool): SGDW: decay the weight after the step
            (``w -= lr * wd * w_old``) instead of adding L2 decay to the
            gradient. Default False.
        foreach (bool, optional): The multi-tensor path; ``None`` decides
            as torch does (multi-tensor on CUDA, single-tensor on CPU).

    ``p.grad`` is only read: after ``step()`` it holds what backward wrote
    (torch's foreach Nesterov SGD writes into it; this one does not).
    ``fused`` and ``differentiable`` exist for signature parity with torch
    and must stay off.
    """

    hyperparameters = SGD_HYPERPARAMETERS
    torch_class = SGD
    option_defaults = dict(lr=1e-3, use_gc=True, gc_conv_only=False,
                           decoupled_weight_decay=False)
    state_keys = frozenset({'momentum_buffer'})
    group_keys = ('momentum', )

    def __init__(self,
                 params,
                 lr: float = None,
                 momentum: float = 0,
                 dampening: float = 0,
                 weight_decay: float = 0,
                 nesterov: bool = False,
                 *,
                 use_gc: Optional[bool] = None,
                 gc_conv_only: Optional[bool] = None,
                 decoupled_weight_decay: Optional[bool] = None,
                 maximize: bool = False,
                 foreach: Optional[bool] = None,
                 differentiable: bool = False,
                 fused: Optional[bool] = None,
                 **unknown):
        self._build(params, unknown, lr=lr, momentum=momentum,
                    dampening=dampening, weight_decay=weight_decay,
                    nesterov=nesterov, use_gc=use_gc,
                    gc_conv_only=gc_conv_only,
                    decoupled_weight_decay=decoupled_weight_decay,
                    maximize=maximize, foreach=foreach,
                    differentiable=differentiable, fused=fused)

    def _step_group(self, group: dict) -> None:
        rule, _ = kernel_gc_args(self.gc_placement(group))
        params = list(self._params_with_grad(group, rule))
        momentum_buffers = [
            self.state[p].get('momentum_buffer')
            if group['momentum'] != 0 else None for p in params
        ]
        F.sgd(params, [p.grad for p in params], momentum_buffers,
              lr=as_float(group['lr']),
              momentum=group['momentum'],
              dampening=group['dampening'],
              weight_decay=group['weight_decay'],
              nesterov=group['nesterov'],
              conv_only=rule,
              decoupled_weight_decay=group['decoupled_weight_decay'],
              maximize=group['maximize'],
              foreach=group.get('foreach'))
        if group['momentum'] != 0:
            for p, buf in zip(params, momentum_buffers):
                self.state[p]['momentum_buffer'] = buf


# --------------------------------------------------------------------------
# The paper's optimizers: the GC rule and the decay mode fixed; ``lr`` has
# no default, as in the authors' code.
# --------------------------------------------------------------------------
_PAPER_DEFAULTS = dict(GCSGD.option_defaults, lr=required)


class SGD_GC(GCSGD):
    """SGD(M) with GC on every weight with ndim > 1 (conv and fc); L2 decay
    is added before centralization."""
    option_defaults = _PAPER_DEFAULTS
    fixed = dict(use_gc=True, gc_conv_only=False,
                 decoupled_weight_decay=False)


class SGD_GCC(GCSGD):
    """SGD(M) with GC on conv weights only (ndim > 3); L2 decay is added
    before centralization."""
    option_defaults = _PAPER_DEFAULTS
    fixed = dict(use_gc=True, gc_conv_only=True,
                 decoupled_weight_decay=False)


class SGDW_GC(GCSGD):
    """SGD(M) with GC on conv and fc weights and decoupled weight decay
    ``w -= lr * wd * w_old`` applied after the step."""
    option_defaults = _PAPER_DEFAULTS
    fixed = dict(use_gc=True, gc_conv_only=False,
                 decoupled_weight_decay=True)


class SGDW_GCC(GCSGD):
    """SGD(M) with GC on conv weights only and decoupled weight decay."""
    option_defaults = _PAPER_DEFAULTS
    fixed = dict(use_gc=True, gc_conv_only=True, decoupled_weight_decay=True)
