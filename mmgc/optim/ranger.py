"""Ranger: RAdam + Lookahead + Gradient Centralization in one optimizer.

The inner step is :class:`~mmgc.optim.gc_radam.GCRAdam` with decoupled
weight decay (``w *= 1 - lr * wd``, torch's RAdam/AdamW decay) and the SMA
threshold ``N_sma_threshold``; after it, the Lookahead sync of
:mod:`mmgc.optim.lookahead`, with its state in the same places (slow weights
in ``state[p]['lookahead_slow']``, ``k``/``alpha``/counter in each group).

Differences from the authors' Ranger, on purpose:

* while ``rho_t <= N_sma_threshold`` the update is a new tensor: decay and GC
  are no longer written into ``exp_avg``;
* decay is ``lr * wd * w`` (the authors scaled it by the RAdam step size,
  i.e. by ``lr / (1 - beta1^t)`` early on);
* the slow weights start as the weights before the first step.
"""
from typing import Union

import torch

from ._validation import as_number, reject_unknown_kwargs
from .gc_radam import GCRAdam
from .placement import closure_loss
from .lookahead import (advance_lookahead, capture_slow_weights,
                        check_lookahead_args, lookahead_defaults)

__all__ = ['Ranger']

_ARGS = ('lr', 'alpha', 'k', 'N_sma_threshold', 'betas', 'eps',
         'weight_decay', 'use_gc', 'gc_conv_only', 'gc_loc', 'maximize')


class Ranger(GCRAdam):
    """RAdam + Lookahead + GC.

    Args:
        params: Parameters or param groups; a group may set ``use_gc``,
            ``gc_conv_only`` and ``gc_loc``.
        lr (float): Learning rate. Default 1e-3.
        alpha (float): Lookahead's slow-weight step. Default 0.5.
        k (int): Fast steps between Lookahead syncs. Default 6.
        N_sma_threshold (float): Take RAdam's rectified step once the SMA
            length exceeds this, the SGD-with-momentum step before. Default 5.
        betas (tuple): Default (0.95, 0.999).
        eps (float): Default 1e-5.
        weight_decay (float): Decoupled decay. Default 0.
        use_gc (bool): Default True. gc_conv_only (bool): Default False.
        gc_loc (bool): Default False (centralize the final update).
    """

    def __init__(self,
                 params,
                 lr: float = 1e-3,
                 alpha: float = 0.5,
                 k: int = 6,
                 N_sma_threshold: float = 5,
                 betas=(0.95, 0.999),
                 eps: float = 1e-5,
                 weight_decay: float = 0,
                 *,
                 use_gc: bool = True,
                 gc_conv_only: bool = False,
                 gc_loc: Union[bool, str] = False,
                 maximize: bool = False,
                 **unknown):
        reject_unknown_kwargs('Ranger', unknown, _ARGS)
        check_lookahead_args('Ranger', k, alpha)
        if not as_number('Ranger', 'N_sma_threshold', N_sma_threshold) >= 4:
            # rho_t > threshold >= 4 keeps the rectification's square root
            # real; below 4 it turns complex a few steps in.
            raise ValueError(
                f'Ranger: N_sma_threshold must be >= 4, got '
                f'{N_sma_threshold!r}: for SMA lengths of 4 and under, '
                "RAdam's rectification term is the square root of a negative "
                'number (5 is the default of RAdam and Ranger).')
        super().__init__(params, lr, betas, eps, weight_decay,
                         decoupled_weight_decay=True, use_gc=use_gc,
                         gc_conv_only=gc_conv_only, gc_loc=gc_loc,
                         maximize=maximize)
        extra = dict(lookahead_defaults(k, alpha),
                     N_sma_threshold=N_sma_threshold)
        self.defaults.update(extra)
        for group in self.param_groups:
            for key, value in extra.items():
                group.setdefault(key, value)

    def __setstate__(self, state: dict) -> None:
        # A checkpoint of GCRAdam/RAdam gets this Ranger's Lookahead settings.
        super().__setstate__(state)
        for group in self.param_groups:
            for key in ('lookahead_k', 'lookahead_alpha', 'lookahead_step',
                        'N_sma_threshold'):
                if key in self.defaults:
                    group.setdefault(key, self.defaults[key])

    def _rho_threshold(self, group: dict) -> float:
        return group['N_sma_threshold']

    def gc_placement(self, group: dict):
        # The Lookahead sync follows the centralized update inside step().
        placement = super().gc_placement(group)
        if placement is not None and placement.on_update:
            placement = placement._replace(whole_step=False)
        return placement

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure_loss(closure)
        captured = capture_slow_weights(self.param_groups, self.state)
        self._update()
        advance_lookahead(self.param_groups, self.state, captured)
        return loss
