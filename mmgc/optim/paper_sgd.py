"""SGD with Gradient Centralization, as the paper's repository ran it.

* ``SGD_GC`` / ``SGD_GCC``: L2 decay is added to the gradient first, then the
  sum is centralized (the decay term is centralized too), then momentum.
* ``SGDW_GC`` / ``SGDW_GCC``: the gradient alone is centralized; decay is
  decoupled and applied after the step to the weight as it was before it.

The momentum buffer starts as a copy of the first direction (no dampening on
step 1), as in torch.optim.SGD; the state layout (``momentum_buffer``) is
torch's, so checkpoints move between SGD and these classes.
"""
from typing import List, Optional

import torch
from torch import Tensor
from torch.optim.optimizer import Optimizer, required

from ._validation import (check_nesterov, check_non_negative,
                          check_required_lr, reject_unknown_kwargs)
from .gc_ops import (centralize, check_not_sparse, foreach_centralize,
                     foreach_centralize_)
from .foreach_utils import default_to_foreach

__all__ = ['SGD_GC', 'SGD_GCC', 'SGDW_GC', 'SGDW_GCC', 'sgd_gc']

_SGD_ARGS = ('lr', 'momentum', 'dampening', 'weight_decay', 'nesterov',
             'foreach')


class _PaperSGD(Optimizer):
    """Shared body of the four paper SGD variants; subclasses only set the
    GC rule and how weight decay is applied."""

    conv_only: bool = False
    decoupled_weight_decay: bool = False

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
        check_non_negative(name, momentum=momentum, weight_decay=weight_decay)
        check_nesterov(name, nesterov, momentum, dampening)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov,
                        foreach=foreach)
        super().__init__(params, defaults)

    def __setstate__(self, state):
        # A checkpoint of torch.optim.SGD (or of an older mmgc) may lack keys.
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault('dampening', 0)
            group.setdefault('nesterov', False)
            group.setdefault('foreach', None)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()

        for group in self.param_groups:
            params, grads, momentum_buffers = [], [], []
            for p in group['params']:
                if p.grad is None:
                    continue
                self._check_grad(p)
                params.append(p)
                grads.append(p.grad)
                momentum_buffers.append(
                    self.state[p].get('momentum_buffer'))

            sgd_gc(params, grads, momentum_buffers,
                   lr=group['lr'],
                   momentum=group['momentum'],
                   dampening=group['dampening'],
                   weight_decay=group['weight_decay'],
                   nesterov=group['nesterov'],
                   conv_only=self.conv_only,
                   decoupled_weight_decay=self.decoupled_weight_decay,
                   foreach=group.get('foreach'))

            if group['momentum'] != 0:
                for p, buf in zip(params, momentum_buffers):
                    self.state[p]['momentum_buffer'] = buf
        return loss

    def _check_grad(self, p: Tensor) -> None:
        check_not_sparse(p.grad, p, type(self).__name__, self.conv_only)
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


def sgd_gc(params: List[Tensor],
           grads: List[Tensor],
           momentum_buffers: List[Optional[Tensor]],
           *,
           lr: float,
           momentum: float,
           dampening: float,
           weight_decay: float,
           nesterov: bool,
           conv_only: bool,
           decoupled_weight_decay: bool,
           foreach: Optional[bool] = None) -> None:
    """Functional form of the paper's SGD with GC.

    ``momentum_buffers`` is updated in place: ``None`` entries are replaced
    by new buffers. ``grads`` are only read.
    """
    if foreach is None:
        foreach = default_to_foreach(params, grads)
    kernel = _multi_tensor_sgd_gc if foreach else _single_tensor_sgd_gc
    kernel(params, grads, momentum_buffers, lr=lr, momentum=momentum,
           dampening=dampening, weight_decay=weight_decay, nesterov=nesterov,
           conv_only=conv_only,
           decoupled_weight_decay=decoupled_weight_decay)


def _single_tensor_sgd_gc(params, grads, momentum_buffers, *, lr, momentum,
                          dampening, weight_decay, nesterov, conv_only,
                          decoupled_weight_decay):
    for i, param in enumerate(params):
        direction = grads[i]
        if decoupled_weight_decay:
            weight_before_step = param.clone() if weight_decay != 0 else None
        elif weight_decay != 0:
            direction = direction.add(param, alpha=weight_decay)
        direction = centralize(direction, conv_only)

        if momentum != 0:
            buf = momentum_buffers[i]
            if buf is None:
                buf = torch.clone(direction).detach()
                momentum_buffers[i] = buf
            else:
                buf.mul_(momentum).add_(direction, alpha=1 - dampening)
            direction = direction.add(buf, alpha=momentum) if nesterov else buf

        param.add_(direction, alpha=-lr)
        if decoupled_weight_decay and weight_decay != 0:
            param.add_(weight_before_step, alpha=-lr * weight_decay)


def _multi_tensor_sgd_gc(params, grads, momentum_buffers, *, lr, momentum,
                         dampening, weight_decay, nesterov, conv_only,
                         decoupled_weight_decay):
    # Same operations as the single-tensor kernel, batched with foreach ops;
    # grouping by device/dtype is left to torch's foreach fallbacks.
    if not params:
        return
    if decoupled_weight_decay and weight_decay != 0:
        weights_before_step = torch._foreach_mul(params, 1.0)
    if weight_decay != 0 and not decoupled_weight_decay:
        # A fresh list: centralize it in place rather than allocating again.
        directions = torch._foreach_add(grads, params, alpha=weight_decay)
        foreach_centralize_(directions, conv_only)
    else:
        directions = foreach_centralize(grads, conv_only)

    if momentum != 0:
        fresh = [i for i, b in enumerate(momentum_buffers) if b is None]
        old = [i for i, b in enumerate(momentum_buffers) if b is not None]
        if old:
            bufs = [momentum_buffers[i] for i in old]
            torch._foreach_mul_(bufs, momentum)
            torch._foreach_add_(bufs, [directions[i] for i in old],
                                alpha=1 - dampening)
        for i in fresh:
            momentum_buffers[i] = torch.clone(directions[i]).detach()
        if nesterov:
            directions = torch._foreach_add(directions, momentum_buffers,
                                            alpha=momentum)
        else:
            directions = list(momentum_buffers)

    torch._foreach_add_(params, directions, alpha=-lr)
    if decoupled_weight_decay and weight_decay != 0:
        torch._foreach_add_(params, weights_before_step,
                            alpha=-lr * weight_decay)
