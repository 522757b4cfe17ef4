"""SGD with Gradient Centralization, as the paper's repository ran it.

* ``SGD_GC`` / ``SGD_GCC``: L2 decay is added to the gradient first, then the
  sum is centralized (the decay term is centralized too), then momentum.
* ``SGDW_GC`` / ``SGDW_GCC``: the gradient alone is centralized; decay is
  decoupled and applied after the step to the weight as it was before it.

The momentum buffer starts as a copy of the first direction (no dampening on
step 1), as in torch.optim.SGD; the state layout (``momentum_buffer``) is
torch's, so checkpoints move between SGD and these classes.

The math is the SGD kernel, :func:`mmgc.optim.functional.sgd`.
"""
from typing import Optional

import torch
from torch import Tensor
from torch.optim.optimizer import Optimizer, required

from . import functional as F
from ._validation import (StateFamilyMixin, check_momentum, check_nesterov,
                          check_non_negative, check_required_lr,
                          reject_unknown_kwargs)
from .gc_ops import check_not_sparse
from .gc_coverage import check_gc_at_build
from .placement import GCPlacement, kernel_gc_args

__all__ = ['SGD_GC', 'SGD_GCC', 'SGDW_GC', 'SGDW_GCC']

_SGD_ARGS = ('lr', 'momentum', 'dampening', 'weight_decay', 'nesterov',
             'foreach')


class _PaperSGD(StateFamilyMixin, Optimizer):
    """Shared body of the four paper SGD variants; subclasses only set the
    GC rule and how weight decay is applied."""

    conv_only: bool = False
    decoupled_weight_decay: bool = False
    state_keys = frozenset({'momentum_buffer'})
    group_keys = ('momentum', )

    def __init__(self,
                 params,
                 lr=required,
                 momentum: float = 0,
                 dampening: float = 0,
                 weight_decay: float = 0,
                 nesterov: bool = False,
                 *,
                 foreach: Optional[bool] = None,
                 **unknown):
        name = type(self).__name__
        reject_unknown_kwargs(name, unknown, _SGD_ARGS)
        check_required_lr(name, lr)
        check_momentum(name, momentum)
        check_non_negative(name, dampening=dampening,
                           weight_decay=weight_decay)
        check_nesterov(name, nesterov, momentum, dampening)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov,
                        foreach=foreach)
        super().__init__(params, defaults)
        check_gc_at_build(self)

    def __setstate__(self, state):
        # A checkpoint of torch.optim.SGD (or of an older mmgc) may lack keys.
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault('dampening', 0)
            group.setdefault('nesterov', False)
            group.setdefault('foreach', None)

    #: The placement protocol: this class's rule for every group.
    gc_options = ()

    def gc_placement(self, group: dict) -> GCPlacement:
        # SGD_GC folds L2 decay in before GC; SGDW_GC decays the weight
        # after the step instead.
        return GCPlacement(
            self.conv_only, on_update=False,
            l2=0.0 if self.decoupled_weight_decay else group['weight_decay'])

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()

        for group in self.param_groups:
            conv_only, _ = kernel_gc_args(self.gc_placement(group))
            params, grads, momentum_buffers = [], [], []
            for p in group['params']:
                if p.grad is None:
                    continue
                self._check_grad(p, conv_only)
                params.append(p)
                grads.append(p.grad)
                momentum_buffers.append(
                    self.state[p].get('momentum_buffer'))

            F.sgd(params, grads, momentum_buffers,
                  lr=group['lr'],
                  momentum=group['momentum'],
                  dampening=group['dampening'],
                  weight_decay=group['weight_decay'],
                  nesterov=group['nesterov'],
                  conv_only=conv_only,
                  decoupled_weight_decay=self.decoupled_weight_decay,
                  foreach=group.get('foreach'))

            if group['momentum'] != 0:
                for p, buf in zip(params, momentum_buffers):
                    self.state[p]['momentum_buffer'] = buf
        return loss

    def _check_grad(self, p: Tensor, conv_only) -> None:
        check_not_sparse(p.grad, p, type(self).__name__, conv_only)
        if p.grad.is_sparse:
            raise RuntimeError(
                f'{type(self).__name__} does not support sparse gradients '
                f'(parameter of shape {tuple(p.shape)}); use Adagrad_GCC or a '
                'dense layer.')


class SGD_GC(_PaperSGD):
    """SGD(M) with GC on every weight with ndim > 1 (conv and fc); L2 decay
    is added before centralization."""


class SGD_GCC(_PaperSGD):
    """SGD(M) with GC on conv weights only (ndim > 3); L2 decay is added
    before centralization."""
    conv_only = True


class SGDW_GC(_PaperSGD):
    """SGD(M) with GC on conv and fc weights and decoupled weight decay
    ``w -= lr * wd * w_old`` applied after the step."""
    decoupled_weight_decay = True


class SGDW_GCC(_PaperSGD):
    """SGD(M) with GC on conv weights only and decoupled weight decay."""
    conv_only = True
    decoupled_weight_decay = True
