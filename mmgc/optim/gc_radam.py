"""torch.optim.RAdam with Gradient Centralization (``GCRAdam``).

GC acts as in :mod:`mmgc.optim.gc_adam` (``gc_loc`` per group). While the
variance is not yet tractable (``rho_t <= 5``) RAdam takes an SGD-with-
momentum step ``lr * m / (1 - beta1^t)``; that update is a new tensor, so
centralizing it, or adding decay to it, never writes into ``exp_avg`` (the
authors' RAdam and Ranger aliased the two and corrupted the first moment).

``degenerated_to_sgd=False`` skips that early update instead (decay still
applies); the authors' version of that option crashed on the first step.
With ``use_gc=False`` and the default ``degenerated_to_sgd=True`` every
operation is torch's single-tensor RAdam: bit-identical results, torch's state
layout (``step``, ``exp_avg``, ``exp_avg_sq``).
"""
from typing import Optional, Union

import torch
from torch.optim import RAdam

from . import functional as F
from ._validation import (GC_OPTION_RULES, HyperSpec, betas, flag, number,
                          off)
from .gc_adam import UNSUPPORTED, init_group
from .gc_group import GCGroupMixin, as_float
from .placement import kernel_gc_args

__all__ = ['GCRAdam']

#: torch's threshold on the SMA length: above it the rectified adaptive step
#: is taken.
RHO_THRESHOLD = 5.0

#: The RAdam family's hyper-parameters, checked at every entry.
RADAM_HYPERPARAMETERS = HyperSpec(
    dict(lr=number(),
         betas=betas(),
         eps=number(),
         weight_decay=number(),
         decoupled_weight_decay=flag(),
         **GC_OPTION_RULES,
         degenerated_to_sgd=flag(),
         maximize=flag(),
         foreach=off('mmgc has only the single-tensor kernel for this '
                     'optimizer (leave foreach unset or False; GCSGD, GCAdam '
                     'and GCAdamW have a foreach path)'),
         **UNSUPPORTED))


class GCRAdam(GCGroupMixin, RAdam):
    """RAdam with GC.

    Args:
        params: Parameters or param groups; a group may set ``use_gc``,
            ``gc_conv_only``, ``gc_loc`` and ``degenerated_to_sgd``.
        lr, betas, eps, weight_decay, decoupled_weight_decay, maximize: as in
            :class:`torch.optim.RAdam`.
        use_gc (bool): Centralize weights with ``ndim > 1``. Default True.
        gc_conv_only (bool): Only conv weights (``ndim > 3``). Default False.
        gc_loc (str | bool): ``'gradient'`` (or True): centralize the
            gradient before the moments; ``'update'`` (or False): centralize
            the final update. Default False.
        degenerated_to_sgd (bool): While ``rho_t <= 5``, take the SGD-with-
            momentum step (True, torch's behaviour) or no gradient step.
    """

    hyperparameters = RADAM_HYPERPARAMETERS
    torch_class = RAdam
    option_defaults = dict(use_gc=True, gc_conv_only=False, gc_loc=False,
                           degenerated_to_sgd=True)
    state_keys = frozenset({'step', 'exp_avg', 'exp_avg_sq'})
    group_keys = ('betas', )

    def __init__(self,
                 params,
                 lr: float = 1e-3,
                 betas=(0.9, 0.999),
                 eps: float = 1e-8,
                 weight_decay: float = 0,
                 decoupled_weight_decay: bool = False,
                 *,
                 use_gc: Optional[bool] = None,
                 gc_conv_only: Optional[bool] = None,
                 gc_loc: Union[bool, str, None] = None,
                 degenerated_to_sgd: Optional[bool] = None,
                 maximize: bool = False,
                 foreach: Optional[bool] = None,
                 capturable: bool = False,
                 differentiable: bool = False,
                 **unknown):
        self._build(params, unknown, lr=lr, betas=betas, eps=eps,
                    weight_decay=weight_decay,
                    decoupled_weight_decay=decoupled_weight_decay,
                    use_gc=use_gc, gc_conv_only=gc_conv_only, gc_loc=gc_loc,
                    degenerated_to_sgd=degenerated_to_sgd, maximize=maximize,
                    foreach=foreach, capturable=capturable,
                    differentiable=differentiable)

    def _rho_threshold(self, group: dict) -> float:
        return RHO_THRESHOLD

    def _step_group(self, group: dict) -> None:
        conv_only, location = kernel_gc_args(self.gc_placement(group))
        params, grads, exp_avgs, exp_avg_sqs, state_steps = [], [], [], [], []
        init_group(self, group, conv_only, params, grads, exp_avgs,
                   exp_avg_sqs, [], state_steps)
        beta1, beta2 = group['betas']
        F.radam(params, grads, exp_avgs, exp_avg_sqs, state_steps,
                beta1=as_float(beta1),
                beta2=as_float(beta2),
                lr=as_float(group['lr']),
                weight_decay=group['weight_decay'],
                eps=group['eps'],
                decoupled_weight_decay=group['decoupled_weight_decay'],
                maximize=group['maximize'],
                rho_threshold=self._rho_threshold(group),
                degenerated_to_sgd=group['degenerated_to_sgd'],
                conv_only=conv_only,
                gc_loc=location)
