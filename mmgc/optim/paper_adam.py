"""Adam and "old AdamW" with Gradient Centralization, as the paper ran them.

Where GC is applied:

* ``Adam_GC`` / ``AdamW_GC`` (and ``..._GCC``): on the gradient (after L2 decay
  for Adam), before it enters the moments.
* ``Adam_GC2`` / ``AdamW_GC2`` (and ``..._GCC2``): on the final update; the
  moments see the raw gradient. Each filter's weight mean then never changes.

The AdamW variants use the AdamW of 2019-era PyTorch that the paper ran:
``denom = sqrt(v) + eps``, ``step_size = lr * sqrt(1 - b2^t) / (1 - b1^t)`` and
``w -= step_size * (wd * w + m / denom)``. The decay is scaled by
``step_size``, not by ``lr`` as in today's torch.optim.AdamW: kept on purpose,
it is what produced the paper's numbers.

State per parameter: ``step`` (int), ``exp_avg``, ``exp_avg_sq`` and, with
amsgrad, ``max_exp_avg_sq``, in the parameter's dtype.
"""
import math
from typing import List, Optional

import torch
from torch import Tensor
from torch.optim.optimizer import Optimizer

from ._validation import (check_betas, check_non_negative,
                          reject_unknown_kwargs)
from .foreach_utils import default_to_foreach
from .gc_ops import (centralize, check_not_sparse, foreach_centralize,
                     foreach_centralize_)

__all__ = [
    'Adam_GC', 'Adam_GCC', 'Adam_GC2', 'Adam_GCC2', 'AdamW_GC', 'AdamW_GCC',
    'AdamW_GC2', 'AdamW_GCC2', 'adam_gc'
]

_ADAM_ARGS = ('lr', 'betas', 'eps', 'weight_decay', 'amsgrad', 'foreach')


class _PaperAdam(Optimizer):
    """Shared body of the eight paper Adam/AdamW variants; subclasses set the
    GC rule, its location and the AdamW flavour."""

    conv_only: bool = False
    gc_on_update: bool = False
    old_adamw: bool = False

    def __init__(self,
                 params,
                 lr: float = 1e-3,
                 betas=(0.9, 0.999),
                 eps: float = 1e-8,
                 weight_decay: float = 0,
                 amsgrad: bool = False,
                 *,
                 foreach: Optional[bool] = None,
                 **unknown):
        name = type(self).__name__
        reject_unknown_kwargs(name, unknown, _ADAM_ARGS)
        check_non_negative(name, lr=lr, eps=eps, weight_decay=weight_decay)
        check_betas(name, betas)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps,
                        weight_decay=weight_decay, amsgrad=amsgrad,
                        foreach=foreach)
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault('amsgrad', False)
            group.setdefault('foreach', None)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()

        name = type(self).__name__
        for group in self.param_groups:
            params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps = (
                [], [], [], [], [], [])
            for p in group['params']:
                if p.grad is None:
                    continue
                check_not_sparse(p.grad, p, name, self.conv_only)
                if p.grad.is_sparse:
                    raise RuntimeError(
                        f'{name} does not support sparse gradients (parameter '
                        f'of shape {tuple(p.shape)}); use Adagrad_GCC or a '
                        'dense layer.')
                state = self.state[p]
                if len(state) == 0:
                    state['step'] = 0
                    state['exp_avg'] = torch.zeros_like(
                        p, memory_format=torch.preserve_format)
                    state['exp_avg_sq'] = torch.zeros_like(
                        p, memory_format=torch.preserve_format)
                    if group['amsgrad']:
                        state['max_exp_avg_sq'] = torch.zeros_like(
                            p, memory_format=torch.preserve_format)
                state['step'] += 1
                params.append(p)
                grads.append(p.grad)
                exp_avgs.append(state['exp_avg'])
                exp_avg_sqs.append(state['exp_avg_sq'])
                max_exp_avg_sqs.append(state.get('max_exp_avg_sq'))
                steps.append(state['step'])

            beta1, beta2 = group['betas']
            adam_gc(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs,
                    steps,
                    amsgrad=group['amsgrad'],
                    beta1=beta1,
                    beta2=beta2,
                    lr=group['lr'],
                    weight_decay=group['weight_decay'],
                    eps=group['eps'],
                    conv_only=self.conv_only,
                    gc_on_update=self.gc_on_update,
                    old_adamw=self.old_adamw,
                    foreach=group.get('foreach'))
        return loss


class Adam_GC(_PaperAdam):
    """Adam with GC on the gradient of conv and fc weights (ndim > 1)."""


class Adam_GCC(_PaperAdam):
    """Adam with GC on the gradient of conv weights only (ndim > 3)."""
    conv_only = True


class Adam_GC2(_PaperAdam):
    """Adam with GC on the final update of conv and fc weights."""
    gc_on_update = True


class Adam_GCC2(_PaperAdam):
    """Adam with GC on the final update of conv weights only."""
    conv_only = True
    gc_on_update = True


class AdamW_GC(_PaperAdam):
    """Old-style AdamW with GC on the gradient of conv and fc weights."""
    old_adamw = True


class AdamW_GCC(_PaperAdam):
    """Old-style AdamW with GC on the gradient of conv weights only."""
    conv_only = True
    old_adamw = True


class AdamW_GC2(_PaperAdam):
    """Old-style AdamW with GC on the final update (decay included) of conv
    and fc weights."""
    gc_on_update = True
    old_adamw = True


class AdamW_GCC2(_PaperAdam):
    """Old-style AdamW with GC on the final update (decay included) of conv
    weights only."""
    conv_only = True
    gc_on_update = True
    old_adamw = True


def adam_gc(params: List[Tensor],
            grads: List[Tensor],
            exp_avgs: List[Tensor],
            exp_avg_sqs: List[Tensor],
            max_exp_avg_sqs: List[Optional[Tensor]],
            steps: List[int],
            *,
            amsgrad: bool,
            beta1: float,
            beta2: float,
            lr: float,
            weight_decay: float,
            eps: float,
            conv_only: bool,
            gc_on_update: bool,
            old_adamw: bool,
            foreach: Optional[bool] = None) -> None:
    """Functional form of the paper's Adam/AdamW with GC. ``steps`` holds
    each parameter's step count after this step's increment."""
    if foreach is None:
        foreach = default_to_foreach(params, grads)
    kernel = _multi_tensor_adam_gc if foreach else _single_tensor_adam_gc
    kernel(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps,
           amsgrad=amsgrad, beta1=beta1, beta2=beta2, lr=lr,
           weight_decay=weight_decay, eps=eps, conv_only=conv_only,
           gc_on_update=gc_on_update, old_adamw=old_adamw)


def _single_tensor_adam_gc(params, grads, exp_avgs, exp_avg_sqs,
                           max_exp_avg_sqs, steps, *, amsgrad, beta1, beta2,
                           lr, weight_decay, eps, conv_only, gc_on_update,
                           old_adamw):
    for i, param in enumerate(params):
        grad, exp_avg, exp_avg_sq = grads[i], exp_avgs[i], exp_avg_sqs[i]
        bias_correction1 = 1 - beta1**steps[i]
        bias_correction2 = 1 - beta2**steps[i]

        if not old_adamw and weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)
        if not gc_on_update:
            grad = centralize(grad, conv_only)

        exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        if amsgrad:
            torch.maximum(max_exp_avg_sqs[i], exp_avg_sq,
                          out=max_exp_avg_sqs[i])
            second_moment = max_exp_avg_sqs[i]
        else:
            second_moment = exp_avg_sq

        if old_adamw:
            denom = second_moment.sqrt().add_(eps)
            step_size = lr * math.sqrt(bias_correction2) / bias_correction1
            update = torch.mul(param, weight_decay).addcdiv_(exp_avg, denom)
            if gc_on_update:
                update = centralize(update, conv_only)
            param.add_(update, alpha=-step_size)
        else:
            denom = (second_moment.sqrt() /
                     math.sqrt(bias_correction2)).add_(eps)
            step_size = lr / bias_correction1
            if gc_on_update:
                delta = torch.mul(exp_avg, step_size).div_(denom)
                param.sub_(centralize(delta, conv_only))
            else:
                param.addcdiv_(exp_avg, denom, value=-step_size)


def _multi_tensor_adam_gc(params, grads, exp_avgs, exp_avg_sqs,
                          max_exp_avg_sqs, steps, **hyper):
    # Bias corrections are scalars per step count; parameters that joined at
    # different steps are batched separately so every foreach call takes a
    # plain scalar, exactly like the single-tensor kernel.
    by_step = {}
    for i, step in enumerate(steps):
        by_step.setdefault(step, []).append(i)
    for step, idx in by_step.items():
        pick = lambda tensors: [tensors[i] for i in idx]  # noqa: E731
        _multi_tensor_adam_gc_same_step(
            pick(params), pick(grads), pick(exp_avgs), pick(exp_avg_sqs),
            pick(max_exp_avg_sqs), step, **hyper)


def _multi_tensor_adam_gc_same_step(params, grads, exp_avgs, exp_avg_sqs,
                                    max_exp_avg_sqs, step, *, amsgrad, beta1,
                                    beta2, lr, weight_decay, eps, conv_only,
                                    gc_on_update, old_adamw):
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step

    if not old_adamw and weight_decay != 0:
        grads = torch._foreach_add(grads, params, alpha=weight_decay)
        if not gc_on_update:
            foreach_centralize_(grads, conv_only)  # a fresh list: in place
    elif not gc_on_update:
        grads = foreach_centralize(grads, conv_only)

    torch._foreach_mul_(exp_avgs, beta1)
    torch._foreach_add_(exp_avgs, grads, alpha=1 - beta1)
    torch._foreach_mul_(exp_avg_sqs, beta2)
    torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1 - beta2)
    if amsgrad:
        torch._foreach_maximum_(max_exp_avg_sqs, exp_avg_sqs)
        second_moments = max_exp_avg_sqs
    else:
        second_moments = exp_avg_sqs

    denoms = torch._foreach_sqrt(second_moments)
    if old_adamw:
        torch._foreach_add_(denoms, eps)
        step_size = lr * math.sqrt(bias_correction2) / bias_correction1
        updates = torch._foreach_mul(params, weight_decay)
        torch._foreach_addcdiv_(updates, exp_avgs, denoms)
        if gc_on_update:
            foreach_centralize_(updates, conv_only)
        torch._foreach_add_(params, updates, alpha=-step_size)
    else:
        torch._foreach_div_(denoms, math.sqrt(bias_correction2))
        torch._foreach_add_(denoms, eps)
        step_size = lr / bias_correction1
        if gc_on_update:
            deltas = torch._foreach_mul(exp_avgs, step_size)
            torch._foreach_div_(deltas, denoms)
            foreach_centralize_(deltas, conv_only)
            torch._foreach_sub_(params, deltas)
        else:
            torch._foreach_addcdiv_(params, exp_avgs, denoms,
                                    value=-step_size)
