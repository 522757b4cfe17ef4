"""The Adam kernel: Adam, AdamW and the paper's "old AdamW", with Gradient
Centralization on the gradient or on the final update.

Used by the paper's ``Adam(W)_GC(C)(2)`` and by ``GCAdam``/``GCAdamW``. A
single-tensor path and a multi-tensor (``foreach``) path that gives the same
bits on CPU. A formed update is written into the memory of its denominator,
so a step holds no more full-size temporaries than torch's foreach Adam.
"""
import math
from typing import List, Optional

import torch
from torch import Tensor

from mmgc import torch_compat

from ..gc_ops import (centralize, centralize_, foreach_centralize,
                      foreach_centralize_, gc_applies)
from ._foreach import default_to_foreach, group_by_device_and_dtype, pick

__all__ = ['adam']


_WEIGHT_DECAY_MODES = ('l2', 'decoupled', 'old_adamw')
_GC_LOCATIONS = ('gradient', 'update')
_ARITHMETIC = ('torch', 'paper')


def adam(params: List[Tensor],
         grads: List[Tensor],
         exp_avgs: List[Tensor],
         exp_avg_sqs: List[Tensor],
         max_exp_avg_sqs: List[Optional[Tensor]],
         steps: List[float],
         *,
         amsgrad: bool,
         beta1: float,
         beta2: float,
         lr: float,
         weight_decay: float,
         eps: float,
         conv_only: Optional[bool],
         gc_loc: str = 'gradient',
         weight_decay_mode: str = 'l2',
         maximize: bool = False,
         arithmetic: str = 'paper',
         foreach: Optional[bool] = None) -> None:
    """Adam / AdamW with Gradient Centralization: the one Adam kernel of
    mmgc, used by the paper's Adam(W)_GC(C)(2) and by
    :class:`~mmgc.optim.GCAdam` / :class:`~mmgc.optim.GCAdamW`.

    For each weight ``w`` with gradient ``g``, at step ``t`` (paper,
    Algorithm 2 for ``gc_loc='gradient'``)::

        g = -g if maximize else g
        g = g + wd * w                   # weight_decay_mode='l2'
        w = w * (1 - lr * wd)            # 'decoupled' (torch's AdamW)
        g = Phi_GC(g)                    # gc_loc='gradient'
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        v_hat = max(v_hat, v)            # amsgrad; then v_hat replaces v
        # 'l2' / 'decoupled':
        u = lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
        # 'old_adamw' (the 2019 AdamW the paper ran; decay scaled by the
        # step size, not by lr):
        u = lr * sqrt(1 - b2^t) / (1 - b1^t) * (wd * w + m / (sqrt(v) + eps))
        u = Phi_GC(u)                    # gc_loc='update' ("GC2": each
                                         # weight slice keeps its mean)
        w = w - u

    The step size multiplies ``u`` before it is centralized, as in the
    authors' code (centralizing first and scaling after is the same in exact
    arithmetic, not in floating point).

    With ``gc_loc='update'`` and ``'decoupled'`` decay, the decay term
    ``lr * wd * w`` joins ``u`` before it is centralized, so slice means are
    kept exactly.

    Args:
        steps: Each parameter's step count ``t``, after this step's
            increment (Python numbers).
        conv_only: The GC rule: ``False`` for every tensor with ``ndim > 1``
            (GC), ``True`` for ``ndim > 3`` only (GCC), ``None`` for none.
        arithmetic: Whose floating-point operation order to follow, so each
            family reproduces its reference bit for bit: ``'torch'``
            (the installed torch.optim.Adam's, see
            ``mmgc.torch_compat.TORCH_ADAM_STYLE``: ``m.lerp_(g, 1 - b1)`` and
            ``(1 - b2^t) ** 0.5`` on recent torch; tensors outside the GC
            rule take torch's ``addcdiv`` update) or
            ``'paper'`` (the authors' code: ``m * b1 + (1 - b1) * g``,
            ``math.sqrt``, and with ``gc_loc='update'`` every tensor takes
            the ``w -= (step_size * m) / denom`` form; under ``'old_adamw'``
            the tensors outside the GC rule step by
            ``w.add_(wd * w + m / denom, alpha=-step_size)`` instead).
        foreach: Take the multi-tensor path; ``None`` decides as torch does.
            On CPU both paths give bit-identical results.

    Moments and ``max_exp_avg_sqs`` are updated in place; ``grads`` are only
    read, never written.
    """
    if weight_decay_mode not in _WEIGHT_DECAY_MODES:
        raise ValueError(f'weight_decay_mode must be one of '
                         f'{_WEIGHT_DECAY_MODES}, got {weight_decay_mode!r}')
    if gc_loc not in _GC_LOCATIONS:
        raise ValueError(
            f'gc_loc must be one of {_GC_LOCATIONS}, got {gc_loc!r}')
    if arithmetic not in _ARITHMETIC:
        raise ValueError(
            f'arithmetic must be one of {_ARITHMETIC}, got {arithmetic!r}')
    if foreach is None:
        foreach = default_to_foreach(params, grads)
    kernel = _multi_tensor_adam if foreach else _single_tensor_adam
    kernel(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps,
           amsgrad=amsgrad, beta1=beta1, beta2=beta2, lr=lr,
           weight_decay=weight_decay, eps=eps, conv_only=conv_only,
           gc_loc=gc_loc, weight_decay_mode=weight_decay_mode,
           maximize=maximize, arithmetic=arithmetic)


def _centralize_update(param, conv_only, gc_loc, arithmetic) -> bool:
    """Whether this tensor's update is formed as a tensor ``u`` (then
    centralized where the GC rule applies) rather than folded into one
    ``addcdiv``. The paper's "GC2" code forms ``u`` for every tensor;
    torch's arithmetic only where GC acts."""
    if gc_loc != 'update' or conv_only is None:
        return False
    return arithmetic == 'paper' or gc_applies(param, conv_only)


def _centralizes_old_adamw_update(param, conv_only, gc_loc) -> bool:
    """Whether the old-AdamW update of this tensor is scaled, centralized
    and subtracted (``w -= Phi_GC(step_size * u)``, the paper's AdamW_GC(C)2
    on a tensor its GC rule covers); every other tensor steps by
    ``w.add_(u, alpha=-step_size)``, as in the authors' code."""
    return (gc_loc == 'update' and conv_only is not None
            and gc_applies(param, conv_only))


def _single_tensor_adam(params, grads, exp_avgs, exp_avg_sqs,
                        max_exp_avg_sqs, steps, *, amsgrad, beta1, beta2,
                        lr, weight_decay, eps, conv_only, gc_loc,
                        weight_decay_mode, maximize, arithmetic):
    for i, param in enumerate(params):
        grad, exp_avg, exp_avg_sq = grads[i], exp_avgs[i], exp_avg_sqs[i]
        bias_correction1 = 1 - beta1**steps[i]
        bias_correction2 = 1 - beta2**steps[i]
        form_update = _centralize_update(param, conv_only, gc_loc,
                                         arithmetic)

        # ``owned``: ``g`` is a temporary of this step, not ``p.grad``.
        g, owned = (-grad, True) if maximize else (grad, False)
        if weight_decay != 0:
            if weight_decay_mode == 'l2':
                g = g.add_(param, alpha=weight_decay) if owned else g.add(
                    param, alpha=weight_decay)
                owned = True
            elif weight_decay_mode == 'decoupled' and not form_update:
                param.mul_(1 - lr * weight_decay)
        if gc_loc == 'gradient' and conv_only is not None:
            g = centralize_(g, conv_only) if owned else centralize(
                g, conv_only)

        if _lerps_first_moment(arithmetic):
            exp_avg.lerp_(g, 1 - beta1)
        else:
            exp_avg.mul_(beta1).add_(g, alpha=1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        del g
        if amsgrad:
            torch.maximum(max_exp_avg_sqs[i], exp_avg_sq,
                          out=max_exp_avg_sqs[i])
            second_moment = max_exp_avg_sqs[i]
        else:
            second_moment = exp_avg_sq

        denom = second_moment.sqrt()
        if weight_decay_mode == 'old_adamw':
            denom.add_(eps)
            step_size = lr * math.sqrt(bias_correction2) / bias_correction1
            # u = wd * w + m / denom, written into denom's memory.
            update = torch.addcdiv(param.mul(weight_decay), exp_avg, denom,
                                   out=denom)
            if _centralizes_old_adamw_update(param, conv_only, gc_loc):
                # The authors' order: scale by the step size, then
                # centralize (not the other way round: the bits differ).
                param.sub_(centralize_(update.mul_(step_size), conv_only))
            else:
                # One ``add`` with ``alpha``, as the authors step every
                # tensor they do not centralize (GC2 too): scaling u first
                # and subtracting after rounds differently.
                param.add_(update, alpha=-step_size)
            continue

        denom.div_(_sqrt(bias_correction2, arithmetic)).add_(eps)
        step_size = lr / bias_correction1
        if not form_update:
            param.addcdiv_(exp_avg, denom, value=-step_size)
            continue
        # u, written into denom's memory (no second full-size temporary).
        if arithmetic == 'paper':
            update = torch.div(exp_avg.mul(step_size), denom, out=denom)
        else:
            update = torch.div(exp_avg, denom, out=denom).mul_(step_size)
            if weight_decay_mode == 'decoupled' and weight_decay != 0:
                update.add_(param, alpha=lr * weight_decay)
        param.sub_(centralize_(update, conv_only))


def _sqrt(value: float, arithmetic: str) -> float:
    # Same number in exact arithmetic; torch >= 2.5 writes ``** 0.5``, older
    # torch and the paper's code ``math.sqrt``: they may differ in the last
    # bit.
    if arithmetic == 'torch':
        return torch_compat.TORCH_ADAM_STYLE.sqrt(value)
    return math.sqrt(value)


def _lerps_first_moment(arithmetic: str) -> bool:
    # torch >= 2.1 updates m by lerp_, older torch and the paper's code by
    # mul_ then add_.
    return (arithmetic == 'torch'
            and torch_compat.TORCH_ADAM_STYLE.lerp_first_moment)


def _multi_tensor_adam(params, grads, exp_avgs, exp_avg_sqs,
                       max_exp_avg_sqs, steps, **hyper):
    # One batch per device, dtype and step count: every foreach call then
    # takes plain scalars (bias corrections depend on the step), exactly like
    # the single-tensor kernel. Normally all parameters share one step.
    groups = group_by_device_and_dtype(params, extra_keys=steps)
    for (_, _, step), idx in groups.items():
        if len(idx) == len(params):
            _multi_tensor_adam_group(params, grads, exp_avgs, exp_avg_sqs,
                                     max_exp_avg_sqs, step, **hyper)
        else:
            _multi_tensor_adam_group(
                pick(params, idx), pick(grads, idx), pick(exp_avgs, idx),
                pick(exp_avg_sqs, idx), pick(max_exp_avg_sqs, idx), step,
                **hyper)


def _multi_tensor_adam_group(params, grads, exp_avgs, exp_avg_sqs,
                             max_exp_avg_sqs, step, *, amsgrad, beta1,
                             beta2, lr, weight_decay, eps, conv_only,
                             gc_loc, weight_decay_mode, maximize,
                             arithmetic):
    # The single-tensor kernel's operations, each batched over the list (one
    # device, one dtype, one step count). Full-size temporaries: at most one
    # list at a time (the transformed gradients, then the denominators that
    # become the updates), as in torch's own foreach Adam.
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    form_update = [
        _centralize_update(p, conv_only, gc_loc, arithmetic) for p in params
    ]

    if maximize:
        g, owned = torch._foreach_neg(grads), True
    else:
        g, owned = list(grads), False
    if weight_decay != 0:
        if weight_decay_mode == 'l2':
            if owned:
                torch._foreach_add_(g, params, alpha=weight_decay)
            else:
                g = torch._foreach_add(g, params, alpha=weight_decay)
            owned = True
        elif weight_decay_mode == 'decoupled':
            decayed = [p for p, f in zip(params, form_update) if not f]
            if decayed:
                torch._foreach_mul_(decayed, 1 - lr * weight_decay)
    if gc_loc == 'gradient' and conv_only is not None:
        if owned:
            foreach_centralize_(g, conv_only)
        else:
            g = foreach_centralize(g, conv_only)

    if _lerps_first_moment(arithmetic):
        torch._foreach_lerp_(exp_avgs, g, 1 - beta1)
    else:
        torch._foreach_mul_(exp_avgs, beta1)
        torch._foreach_add_(exp_avgs, g, alpha=1 - beta1)
    torch._foreach_mul_(exp_avg_sqs, beta2)
    torch._foreach_addcmul_(exp_avg_sqs, g, g, value=1 - beta2)
    del g  # free the gradient temporaries before the denominators
    if amsgrad:
        torch._foreach_maximum_(max_exp_avg_sqs, exp_avg_sqs)
        second_moments = max_exp_avg_sqs
    else:
        second_moments = exp_avg_sqs

    denoms = torch._foreach_sqrt(second_moments)
    if weight_decay_mode == 'old_adamw':
        torch._foreach_add_(denoms, eps)
        step_size = lr * math.sqrt(bias_correction2) / bias_correction1
        # u = wd * w + m / denom, written into each denom's memory: one
        # tensor-sized temporary at a time instead of a second list.
        for p, m, d in zip(params, exp_avgs, denoms):
            torch.addcdiv(p.mul(weight_decay), m, d, out=d)
        centred = [
            _centralizes_old_adamw_update(p, conv_only, gc_loc)
            for p in params
        ]
        scaled = [i for i, c in enumerate(centred) if c]
        if scaled:
            # Scaled first, then centralized: the authors' order.
            updates = pick(denoms, scaled)
            torch._foreach_mul_(updates, step_size)
            foreach_centralize_(updates, conv_only)
            torch._foreach_sub_(pick(params, scaled), updates)
        # The tensors GC leaves alone: one add with alpha, as the
        # single-tensor path (and the authors' code).
        plain = [i for i, c in enumerate(centred) if not c]
        if plain:
            torch._foreach_add_(pick(params, plain), pick(denoms, plain),
                                alpha=-step_size)
        return

    torch._foreach_div_(denoms, _sqrt(bias_correction2, arithmetic))
    torch._foreach_add_(denoms, eps)
    step_size = lr / bias_correction1

    plain = [i for i, f in enumerate(form_update) if not f]
    if plain:
        torch._foreach_addcdiv_(pick(params, plain), pick(exp_avgs, plain),
                                pick(denoms, plain), value=-step_size)
    formed = [i for i, f in enumerate(form_update) if f]
    if not formed:
        return
    params, exp_avgs = pick(params, formed), pick(exp_avgs, formed)
    updates = pick(denoms, formed)
    del denoms
    # u, written into the denominators' memory (no foreach op divides into
    # its divisor, so this one is per tensor).
    if arithmetic == 'paper':
        for m, d in zip(exp_avgs, updates):
            torch.div(m.mul(step_size), d, out=d)
    else:
        for m, d in zip(exp_avgs, updates):
            torch.div(m, d, out=d)
        torch._foreach_mul_(updates, step_size)
        if weight_decay_mode == 'decoupled' and weight_decay != 0:
            torch._foreach_add_(updates, params, alpha=lr * weight_decay)
    foreach_centralize_(updates, conv_only)
    torch._foreach_sub_(params, updates)
