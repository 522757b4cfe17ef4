"""The RAdam kernel, with Gradient Centralization on the gradient or on the
final update (``GCRAdam``, and Ranger's inner step).

While the variance is not yet tractable (``rho_t <= threshold``) RAdam takes
an SGD-with-momentum step ``lr * m / (1 - beta1^t)``; that update is a new
tensor, so centralizing it, or adding decay to it, never writes into
``exp_avg``. Single-tensor only.
"""
from typing import List, Optional

import torch
from torch import Tensor

from mmgc import torch_compat

from ..gc_ops import centralize, centralize_, gc_applies

__all__ = ['radam']


def radam(params: List[Tensor],
          grads: List[Tensor],
          exp_avgs: List[Tensor],
          exp_avg_sqs: List[Tensor],
          state_steps: List[Tensor],
          *,
          beta1: float,
          beta2: float,
          lr: float,
          weight_decay: float,
          eps: float,
          decoupled_weight_decay: bool,
          maximize: bool,
          rho_threshold: float,
          degenerated_to_sgd: bool,
          conv_only: Optional[bool],
          gc_loc: str = 'gradient') -> None:
    """Functional GCRAdam (also Ranger's inner step). Moments and step
    counters are updated in place; ``grads`` are only read.

    Args:
        conv_only: The GC rule: ``False`` for every tensor with ``ndim > 1``
            (GC), ``True`` for ``ndim > 3`` only (GCC), ``None`` for none.
        gc_loc: ``'gradient'`` (before the moments) or ``'update'`` (the
            final update).
    """
    if gc_loc not in ('gradient', 'update'):
        raise ValueError(
            f"gc_loc must be 'gradient' or 'update', got {gc_loc!r}")
    _single_tensor_radam(
        params, grads, exp_avgs, exp_avg_sqs, state_steps, beta1=beta1,
        beta2=beta2, lr=lr, weight_decay=weight_decay, eps=eps,
        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
        rho_threshold=rho_threshold, degenerated_to_sgd=degenerated_to_sgd,
        conv_only=conv_only, gc_loc=gc_loc)


def _single_tensor_radam(params, grads, exp_avgs, exp_avg_sqs,
                         state_steps, *, beta1, beta2, lr, weight_decay,
                         eps, decoupled_weight_decay, maximize,
                         rho_threshold, degenerated_to_sgd, conv_only,
                         gc_loc):
    # The installed torch's arithmetic, for bit-identity with its RAdam.
    style = torch_compat.TORCH_ADAM_STYLE
    for i, param in enumerate(params):
        grad = grads[i] if not maximize else -grads[i]
        exp_avg = exp_avgs[i]
        exp_avg_sq = exp_avg_sqs[i]
        step_t = state_steps[i]
        gc_here = conv_only is not None and gc_applies(param, conv_only)
        gc_update = gc_here and gc_loc == 'update'

        step_t += 1
        step = step_t.item()

        if weight_decay != 0:
            if decoupled_weight_decay:
                if not gc_update:
                    param.mul_(1 - lr * weight_decay)
            else:
                grad = grad.add(param, alpha=weight_decay)

        if gc_here and not gc_update:
            grad = centralize(grad, conv_only)

        if style.lerp_first_moment:
            exp_avg.lerp_(grad, 1 - beta1)
        else:
            exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)

        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        bias_corrected_exp_avg = exp_avg / bias_correction1

        # Length of the approximated simple moving average, and its limit.
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2

        if rho_t > rho_threshold:
            rect = style.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf /
                              ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            adaptive_lr = (style.sqrt(bias_correction2) /
                           exp_avg_sq.sqrt().add_(eps))
            update = bias_corrected_exp_avg * lr * adaptive_lr * rect
        elif degenerated_to_sgd:
            update = bias_corrected_exp_avg * lr
        else:
            update = None

        if gc_update:
            # `update` is a fresh tensor (never exp_avg), so in-place is safe.
            if update is None:
                update = torch.zeros_like(param)
            if decoupled_weight_decay and weight_decay != 0:
                update.add_(param, alpha=lr * weight_decay)
            param.sub_(centralize_(update, conv_only))
        elif update is not None:
            param.add_(update, alpha=-1.0)
