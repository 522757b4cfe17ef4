"""The Adagrad kernel, with Gradient Centralization on the gradient.

L2 decay is added to the gradient, then the gradient is centralized, then it
is accumulated: ``sum += g*g``, ``w -= clr * g / (sqrt(sum) + eps)`` with
``clr = lr / (1 + (t - 1) * lr_decay)``. Sparse gradients (only on tensors
GC leaves alone; the optimizers check that) take Adagrad's sparse update.
"""
from typing import List

import torch
from torch import Tensor

from ..gc_ops import centralize

__all__ = ['adagrad']


def adagrad(params: List[Tensor], grads: List[Tensor],
            state_sums: List[Tensor], steps: List[int], *, lr: float,
            weight_decay: float, lr_decay: float, eps: float,
            conv_only: bool) -> None:
    """Adagrad with Gradient Centralization on the gradient, as the paper ran
    it (the kernel of ``Adagrad_GC``/``Adagrad_GCC``); ``state_sums`` are
    updated in place, ``grads`` only read."""
    for param, grad, state_sum, step in zip(params, grads, state_sums, steps):
        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)
        clr = lr / (1 + (step - 1) * lr_decay)
        if grad.is_sparse:
            _sparse_adagrad_update(param, grad, state_sum, clr, eps)
            continue
        grad = centralize(grad, conv_only)
        state_sum.addcmul_(grad, grad, value=1)
        std = state_sum.sqrt().add_(eps)
        param.addcdiv_(grad, std, value=-clr)


def _sparse_adagrad_update(param, grad, state_sum, clr, eps):
    """Adagrad's update restricted to the rows a sparse gradient touches."""
    grad = grad.coalesce()
    indices, values = grad._indices(), grad._values()

    def like_grad(new_values):
        return torch.sparse_coo_tensor(indices, new_values, grad.size(),
                                       check_invariants=False)

    state_sum.add_(like_grad(values.pow(2)))
    std_values = state_sum.sparse_mask(grad)._values().sqrt_().add_(eps)
    param.add_(like_grad(values / std_values), alpha=-clr)
