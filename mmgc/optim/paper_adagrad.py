"""Adagrad with Gradient Centralization, as the paper ran it.

L2 decay is added to the gradient, then the gradient is centralized, then it
is accumulated: ``sum += g*g``, ``w -= clr * g / (sqrt(sum) + eps)`` with
``clr = lr / (1 + (t - 1) * lr_decay)``. State per parameter: ``step`` (int)
and ``sum``.

Sparse gradients keep Adagrad's sparse update on tensors GC leaves alone
(for example an ``nn.Embedding(sparse=True)`` weight under ``Adagrad_GCC``);
on a tensor GC would centralize they are refused with a clear error.
"""
import torch
from torch.optim.optimizer import Optimizer

from . import functional as F
from ._validation import (StateFamilyMixin, check_non_negative,
                          reject_unknown_kwargs)
from .gc_ops import check_not_sparse
from .gc_coverage import check_gc_at_build
from .placement import GCPlacement, kernel_gc_args

__all__ = ['Adagrad_GC', 'Adagrad_GCC']

_ADAGRAD_ARGS = ('lr', 'lr_decay', 'weight_decay',
                 'initial_accumulator_value', 'eps')


class _PaperAdagrad(StateFamilyMixin, Optimizer):
    conv_only: bool = False
    state_keys = frozenset({'step', 'sum'})
    group_keys = ('lr_decay', )

    def __init__(self,
                 params,
                 lr: float = 1e-2,
                 lr_decay: float = 0,
                 weight_decay: float = 0,
                 initial_accumulator_value: float = 0,
                 eps: float = 1e-10,
                 **unknown):
        name = type(self).__name__
        reject_unknown_kwargs(name, unknown, _ADAGRAD_ARGS)
        check_non_negative(
            name, lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value, eps=eps)
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value,
                        eps=eps)
        super().__init__(params, defaults)
        # The accumulator starts at a value, so it is created eagerly.
        for group in self.param_groups:
            for p in group['params']:
                self._init_state(p, group)
        check_gc_at_build(self)

    def _init_state(self, p, group: dict) -> dict:
        state = self.state[p]
        state['step'] = 0
        state['sum'] = torch.full_like(p,
                                       group['initial_accumulator_value'],
                                       memory_format=torch.preserve_format)
        return state

    #: The placement protocol: this class's rule for every group.
    gc_options = ()

    def gc_placement(self, group: dict) -> GCPlacement:
        return GCPlacement(self.conv_only, on_update=False,
                           l2=group['weight_decay'])

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()

        name = type(self).__name__
        for group in self.param_groups:
            conv_only, _ = kernel_gc_args(self.gc_placement(group))
            params, grads, state_sums, steps = [], [], [], []
            for p in group['params']:
                if p.grad is None:
                    continue
                check_not_sparse(p.grad, p, name, conv_only)
                if p.grad.is_sparse and group['weight_decay'] != 0:
                    raise RuntimeError(
                        f'{name}: weight_decay is not compatible with sparse '
                        'gradients (parameter of shape '
                        f'{tuple(p.shape)}); set weight_decay=0 for it via '
                        'paramwise_cfg.')
                state = self.state[p]
                if not state:
                    # A tensor put into the group after the build (DeepSpeed
                    # ZeRO's flat partitions).
                    state = self._init_state(p, group)
                state['step'] += 1
                params.append(p)
                grads.append(p.grad)
                state_sums.append(state['sum'])
                steps.append(state['step'])

            F.adagrad(params, grads, state_sums, steps,
                      lr=group['lr'],
                      weight_decay=group['weight_decay'],
                      lr_decay=group['lr_decay'],
                      eps=group['eps'],
                      conv_only=conv_only)
        return loss


class Adagrad_GC(_PaperAdagrad):
    """Adagrad with GC on the gradient of conv and fc weights (ndim > 1)."""


class Adagrad_GCC(_PaperAdagrad):
    """Adagrad with GC on the gradient of conv weights only (ndim > 3)."""
    conv_only = True
