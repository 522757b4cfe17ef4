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

The math is the Adam kernel, :func:`mmgc.optim.functional.adam`, in the
authors' arithmetic (``arithmetic='paper'``).
"""
from typing import Optional

import torch
from torch.optim.optimizer import Optimizer

from . import functional as F
from ._validation import (StateFamilyMixin, check_betas, check_flags,
                          check_non_negative, reject_unknown_kwargs)
from .gc_ops import check_not_sparse
from .gc_coverage import check_gc_at_build
from .placement import GCPlacement, kernel_gc_args

__all__ = [
    'Adam_GC', 'Adam_GCC', 'Adam_GC2', 'Adam_GCC2', 'AdamW_GC', 'AdamW_GCC',
    'AdamW_GC2', 'AdamW_GCC2'
]

_ADAM_ARGS = ('lr', 'betas', 'eps', 'weight_decay', 'amsgrad', 'foreach')


class _PaperAdam(StateFamilyMixin, Optimizer):
    """Shared body of the eight paper Adam/AdamW variants; subclasses set the
    GC rule, its location and the AdamW flavour."""

    conv_only: bool = False
    gc_on_update: bool = False
    old_adamw: bool = False
    state_keys = frozenset({'step', 'exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'})
    group_keys = ('betas', )

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
        check_flags(name, amsgrad=amsgrad)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps,
                        weight_decay=weight_decay, amsgrad=amsgrad,
                        foreach=foreach)
        super().__init__(params, defaults)
        check_gc_at_build(self)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault('amsgrad', False)
            group.setdefault('foreach', None)

    #: The placement protocol: this class's rule for every group.
    gc_options = ()

    def gc_placement(self, group: dict) -> GCPlacement:
        if self.gc_on_update:
            return GCPlacement(self.conv_only, on_update=True)
        # Adam_GC folds L2 decay in before GC; the old AdamW adds its decay
        # to the update.
        return GCPlacement(
            self.conv_only, on_update=False,
            l2=0.0 if self.old_adamw else group['weight_decay'])

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()

        name = type(self).__name__
        for group in self.param_groups:
            conv_only, location = kernel_gc_args(self.gc_placement(group))
            params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps = (
                [], [], [], [], [], [])
            for p in group['params']:
                if p.grad is None:
                    continue
                check_not_sparse(p.grad, p, name, conv_only)
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
            F.adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs,
                   steps,
                   amsgrad=group['amsgrad'],
                   beta1=beta1,
                   beta2=beta2,
                   lr=group['lr'],
                   weight_decay=group['weight_decay'],
                   eps=group['eps'],
                   conv_only=conv_only,
                   gc_loc=location,
                   weight_decay_mode=('old_adamw'
                                      if self.old_adamw else 'l2'),
                   arithmetic='paper',
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
