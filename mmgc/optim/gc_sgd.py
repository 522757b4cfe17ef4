"""torch.optim.SGD with Gradient Centralization (``GCSGD``).

The algorithm is torch's SGD; GC centralizes the descent direction after L2
decay is added and before momentum (for SGD, centralizing the gradient or the
final update is the same in exact arithmetic, so there is no ``gc_loc``).
With ``use_gc=False`` every operation is torch's single-tensor SGD, so the
result is bit-identical and the state layout (``momentum_buffer``) is torch's.
"""
from typing import List, Optional

import torch
from torch import Tensor
from torch.optim import SGD

from ._validation import reject_unknown_kwargs
from .gc_group import GCGroupMixin, as_float
from .gc_ops import centralize, check_not_sparse

__all__ = ['GCSGD', 'gc_sgd']

_ARGS = ('lr', 'momentum', 'dampening', 'weight_decay', 'nesterov',
         'use_gc', 'gc_conv_only', 'maximize', 'foreach', 'differentiable',
         'fused')


class GCSGD(GCGroupMixin, SGD):
    """SGD (optionally with momentum / Nesterov) with GC.

    Args:
        params: Parameters or param groups; a group may set ``use_gc`` and
            ``gc_conv_only`` for itself.
        lr, momentum, dampening, weight_decay, nesterov, maximize: as in
            :class:`torch.optim.SGD`.
        use_gc (bool): Centralize weights with ``ndim > 1``. Default True.
        gc_conv_only (bool): Only conv weights (``ndim > 3``). Default False.

    ``p.grad`` is only read: after ``step()`` it holds what backward wrote.
    ``foreach``, ``fused`` and ``differentiable`` exist for signature parity
    with torch and must stay off.
    """

    gc_options = ('use_gc', 'gc_conv_only')

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
        reject_unknown_kwargs(type(self).__name__, unknown, _ARGS)
        self._refuse_unsupported(foreach=foreach, fused=fused,
                                 differentiable=differentiable)
        super().__init__(params, lr, momentum, dampening, weight_decay,
                         nesterov, maximize=maximize, foreach=foreach,
                         differentiable=differentiable, fused=fused)
        self._init_gc(use_gc=use_gc, gc_conv_only=gc_conv_only)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()

        for group in self.param_groups:
            rule = self._gc_rule(group)
            params, grads, momentum_buffers = [], [], []
            for p in group['params']:
                if p.grad is None:
                    continue
                check_not_sparse(p.grad, p, type(self).__name__, rule)
                params.append(p)
                grads.append(p.grad)
                if group['momentum'] != 0:
                    momentum_buffers.append(
                        self.state[p].get('momentum_buffer'))

            gc_sgd(params, grads, momentum_buffers,
                   weight_decay=group['weight_decay'],
                   momentum=group['momentum'],
                   lr=group['lr'],
                   dampening=group['dampening'],
                   nesterov=group['nesterov'],
                   maximize=group['maximize'],
                   use_gc=group['use_gc'],
                   gc_conv_only=group['gc_conv_only'])

            if group['momentum'] != 0:
                for p, buf in zip(params, momentum_buffers):
                    self.state[p]['momentum_buffer'] = buf
        return loss


def gc_sgd(params: List[Tensor],
           grads: List[Tensor],
           momentum_buffer_list: List[Optional[Tensor]],
           *,
           weight_decay: float,
           momentum: float,
           lr: float,
           dampening: float,
           nesterov: bool,
           maximize: bool,
           use_gc: bool,
           gc_conv_only: bool) -> None:
    """Functional GCSGD. ``momentum_buffer_list`` is updated in place (``None``
    entries become new buffers); ``grads`` are only read."""
    _single_tensor_gc_sgd(params, grads, momentum_buffer_list,
                          weight_decay=weight_decay, momentum=momentum,
                          lr=lr, dampening=dampening, nesterov=nesterov,
                          maximize=maximize, use_gc=use_gc,
                          gc_conv_only=gc_conv_only)


def _single_tensor_gc_sgd(params, grads, momentum_buffer_list, *,
                          weight_decay, momentum, lr, dampening, nesterov,
                          maximize, use_gc, gc_conv_only):
    lr = as_float(lr)
    for i, param in enumerate(params):
        grad = grads[i] if not maximize else -grads[i]
        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)
        if use_gc:
            # Out of place: grad may still be p.grad itself.
            grad = centralize(grad, gc_conv_only)

        if momentum != 0:
            buf = momentum_buffer_list[i]
            if buf is None:
                buf = grad.detach().clone()
                momentum_buffer_list[i] = buf
            else:
                buf.mul_(momentum).add_(grad, alpha=1 - dampening)
            grad = grad.add(buf, alpha=momentum) if nesterov else buf

        param.add_(grad, alpha=-lr)
