"""Adagrad with Gradient Centralization, as the paper ran it: ``Adagrad_GC``
and ``Adagrad_GCC``.

L2 decay is added to the gradient, then the gradient is centralized, then it
is accumulated: ``sum += g*g``, ``w -= clr * g / (sqrt(sum) + eps)`` with
``clr = lr / (1 + (t - 1) * lr_decay)``. State per parameter: ``step`` (int)
and ``sum``. The math is the Adagrad kernel,
:func:`mmgc.optim.functional.adagrad`.

Sparse gradients keep Adagrad's sparse update on tensors GC leaves alone
(for example an ``nn.Embedding(sparse=True)`` weight under ``Adagrad_GCC``);
on a tensor GC would centralize they are refused with a clear error.
"""
import torch
from torch.optim.optimizer import Optimizer

from . import functional as F
from ._validation import GC_OPTION_RULES, HyperSpec, number
from .gc_group import GCGroupMixin, as_float
from .placement import kernel_gc_args

__all__ = ['Adagrad_GC', 'Adagrad_GCC']

#: The Adagrad family's hyper-parameters, checked at every entry.
ADAGRAD_HYPERPARAMETERS = HyperSpec(
    dict(lr=number(),
         lr_decay=number(),
         weight_decay=number(),
         initial_accumulator_value=number(),
         eps=number(),
         use_gc=GC_OPTION_RULES['use_gc'],
         gc_conv_only=GC_OPTION_RULES['gc_conv_only']))


class _PaperAdagrad(GCGroupMixin, Optimizer):
    """The Adagrad family: the paper's two variants differ only in the GC
    rule they fix."""

    hyperparameters = ADAGRAD_HYPERPARAMETERS
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
        self._build(params, unknown, lr=lr, lr_decay=lr_decay,
                    weight_decay=weight_decay,
                    initial_accumulator_value=initial_accumulator_value,
                    eps=eps)
        # The accumulator starts at a value, so it is created eagerly.
        for group in self.param_groups:
            for p in group['params']:
                self._init_state(p, group)

    def _init_state(self, p, group: dict) -> dict:
        state = self.state[p]
        state['step'] = 0
        state['sum'] = torch.full_like(p,
                                       group['initial_accumulator_value'],
                                       memory_format=torch.preserve_format)
        return state

    def _step_group(self, group: dict) -> None:
        conv_only, _ = kernel_gc_args(self.gc_placement(group))
        params, state_sums, steps = [], [], []
        for p in self._params_with_grad(group, conv_only):
            if p.grad.is_sparse and group['weight_decay'] != 0:
                raise RuntimeError(
                    f'{type(self).__name__}: weight_decay is not compatible '
                    'with sparse gradients (parameter of shape '
                    f'{tuple(p.shape)}); set weight_decay=0 for it via '
                    'paramwise_cfg.')
            state = self.state[p]
            if not state:
                # A tensor put into the group after the build (DeepSpeed
                # ZeRO's flat partitions).
                state = self._init_state(p, group)
            state['step'] += 1
            params.append(p)
            state_sums.append(state['sum'])
            steps.append(as_float(state['step']))
        F.adagrad(params, [p.grad for p in params], state_sums, steps,
                  lr=group['lr'],
                  weight_decay=group['weight_decay'],
                  lr_decay=group['lr_decay'],
                  eps=group['eps'],
                  conv_only=conv_only)


class Adagrad_GC(_PaperAdagrad):
    """Adagrad with GC on the gradient of conv and fc weights (ndim > 1)."""
    fixed = dict(use_gc=True, gc_conv_only=False)


class Adagrad_GCC(_PaperAdagrad):
    """Adagrad with GC on the gradient of conv weights only (ndim > 3)."""
    fixed = dict(use_gc=True, gc_conv_only=True)
