"""torch.optim.SGD with Gradient Centralization (``GCSGD``).

The algorithm is torch's SGD; GC centralizes the descent direction after L2
decay is added and before momentum (for SGD, centralizing the gradient or the
final update is the same in exact arithmetic, so there is no ``gc_loc``).
The math is the SGD kernel shared with the paper's optimizers
(:func:`mmgc.optim.functional.sgd`), with a single-tensor and a multi-tensor
(``foreach``) path. With ``use_gc=False`` every operation is torch's SGD
(single-tensor path for ``foreach=False``, foreach path for
``foreach=True``), so the result is bit-identical on CPU, and the state
layout (``momentum_buffer``) is torch's.
"""
from typing import Optional

import torch
from torch.optim import SGD

from mmgc import torch_compat

from . import functional as F
from ._validation import (StateFamilyMixin, check_flags, check_momentum,
                          check_nesterov, check_non_negative,
                          reject_unknown_kwargs)
from .gc_group import GCGroupMixin, as_float
from .gc_ops import check_not_sparse
from .placement import kernel_gc_args

__all__ = ['GCSGD']

_ARGS = ('lr', 'momentum', 'dampening', 'weight_decay', 'nesterov',
         'use_gc', 'gc_conv_only', 'maximize', 'foreach', 'differentiable',
         'fused')


class GCSGD(StateFamilyMixin, GCGroupMixin, SGD):
    """SGD (optionally with momentum / Nesterov) with GC.

    Args:
        params: Parameters or param groups; a group may set ``use_gc`` and
            ``gc_conv_only`` for itself.
        lr, momentum, dampening, weight_decay, nesterov, maximize: as in
            :class:`torch.optim.SGD`.
        use_gc (bool): Centralize weights with ``ndim > 1``. Default True.
        gc_conv_only (bool): Only conv weights (``ndim > 3``). Default False.
        foreach (bool, optional): The multi-tensor path; ``None`` decides
            as torch does (multi-tensor on CUDA, single-tensor on CPU).

    ``p.grad`` is only read: after ``step()`` it holds what backward wrote
    (torch's foreach Nesterov SGD writes into it; this one does not).
    ``fused`` and ``differentiable`` exist for signature parity with torch
    and must stay off.
    """

    gc_options = ('use_gc', 'gc_conv_only')
    state_keys = frozenset({'momentum_buffer'})
    group_keys = ('momentum', )

    def __init__(self,
                 params,
                 lr: float = 1e-3,
                 momentum: float = 0,
                 dampening: float = 0,
                 weight_decay: float = 0,
                 nesterov: bool = False,
                 *,
                 use_gc: bool = True,
                 gc_conv_only: bool = False,
                 maximize: bool = False,
                 foreach: Optional[bool] = None,
                 differentiable: bool = False,
                 fused: Optional[bool] = None,
                 **unknown):
        name = type(self).__name__
        reject_unknown_kwargs(name, unknown, _ARGS)
        self._refuse_unsupported(fused=fused, differentiable=differentiable)
        check_non_negative(name, lr=lr, dampening=dampening,
                           weight_decay=weight_decay)
        check_momentum(name, momentum)
        check_nesterov(name, nesterov, momentum, dampening)
        check_flags(name, maximize=maximize)
        torch_compat.init_torch_optimizer(
            SGD, self, params, lr=lr, momentum=momentum, dampening=dampening,
            weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
            foreach=foreach, differentiable=differentiable, fused=fused)
        self._init_gc(use_gc=use_gc, gc_conv_only=gc_conv_only)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()

        for group in self.param_groups:
            rule, _ = kernel_gc_args(self.gc_placement(group))
            params, grads, momentum_buffers = [], [], []
            for p in group['params']:
                if p.grad is None:
                    continue
                check_not_sparse(p.grad, p, type(self).__name__, rule)
                params.append(p)
                grads.append(p.grad)
                momentum_buffers.append(
                    self.state[p].get('momentum_buffer')
                    if group['momentum'] != 0 else None)

            F.sgd(params, grads, momentum_buffers,
                  lr=as_float(group['lr']),
                  momentum=group['momentum'],
                  dampening=group['dampening'],
                  weight_decay=group['weight_decay'],
                  nesterov=group['nesterov'],
                  conv_only=rule,
                  maximize=group['maximize'],
                  foreach=group.get('foreach'))

            if group['momentum'] != 0:
                for p, buf in zip(params, momentum_buffers):
                    self.state[p]['momentum_buffer'] = buf
        return loss
