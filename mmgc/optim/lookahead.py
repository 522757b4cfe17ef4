"""Lookahead (Zhang et al., 2019) around any optimizer.

Every ``k`` steps of the inner ("fast") optimizer the slow weights move
``slow += alpha * (fast - slow)`` and the fast weights restart from them.
The slow weights start as the weights before the first step.

All of Lookahead's state lives in the inner optimizer: the slow weights in
``state[p]['lookahead_slow']`` and ``k``, ``alpha`` and the step counter in
each param group (``lookahead_k``, ``lookahead_alpha``, ``lookahead_step``).
So ``state_dict()`` is the inner optimizer's, keyed like any torch
state_dict, and loads back (the authors' version keyed it by Python object
ids, which do not survive a restart).
"""
from typing import Dict, List, Tuple

import torch
from mmengine.registry import OPTIMIZERS
from torch import Tensor
from torch.optim import Optimizer

from mmgc import torch_compat

from ._validation import as_number, reject_unknown_kwargs
from .placement import closure_loss, gc_placement_of

__all__ = ['Lookahead', 'capture_slow_weights', 'advance_lookahead']

SLOW_KEY = 'lookahead_slow'


def check_lookahead_args(owner: str, k, alpha) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f'{owner}: k must be an integer >= 1 (the number of '
                         f'fast steps between syncs), got {k!r}.')
    if not 0.0 <= as_number(owner, 'alpha', alpha) <= 1.0:
        raise ValueError(f'{owner}: alpha must be in [0, 1] (the slow '
                         f'weights\' step towards the fast ones), got '
                         f'{alpha!r}.')


def lookahead_defaults(k: int, alpha: float) -> dict:
    return dict(lookahead_k=k, lookahead_alpha=alpha, lookahead_step=0)


@torch.no_grad()
def capture_slow_weights(param_groups: List[dict],
                         state: Dict) -> List[Tuple[Tensor, Tensor]]:
    """Copies of the weights about to be updated for the first time.

    Call before the inner step; hand the result to :func:`advance_lookahead`.
    The copies are stored only after the inner step, because torch's
    optimizers take an empty per-parameter state to mean "initialize me".
    """
    captured = []
    for group in param_groups:
        for p in group['params']:
            if p.grad is not None and SLOW_KEY not in state.get(p, ()):
                captured.append((p, p.detach().clone()))
    return captured


@torch.no_grad()
def advance_lookahead(param_groups: List[dict], state: Dict,
                      captured: List[Tuple[Tensor, Tensor]]) -> None:
    """Count one inner step per group and sync the groups due for it."""
    for p, slow in captured:
        state[p][SLOW_KEY] = slow
    for group in param_groups:
        # DeepSpeed ZeRO-3 steps one group at a time, the others emptied.
        if not group['params']:
            continue
        group['lookahead_step'] += 1
        if group['lookahead_step'] % group['lookahead_k'] != 0:
            continue
        for p in group['params']:
            slow = state.get(p, {}).get(SLOW_KEY)
            if slow is None:
                continue
            slow.add_(p - slow, alpha=group['lookahead_alpha'])
            p.copy_(slow)


class Lookahead(Optimizer):
    """Lookahead wrapper.

    Args:
        params: The parameters (or param groups) for the inner optimizer when
            ``optimizer`` is a config dict. mmengine's optim-wrapper
            constructors pass them; leave it out when ``optimizer`` is built.
        optimizer (Optimizer | dict): The inner optimizer, or its config
            (``dict(type='SGD_GC', lr=0.1, ...)``), built through mmengine's
            ``OPTIMIZERS`` registry.
        k (int): Fast steps between syncs. Default 5.
        alpha (float): Step of the slow weights towards the fast ones.
            Default 0.5.

    Examples:
        >>> base = GCSGD(model.parameters(), lr=0.1, momentum=0.9)
        >>> optimizer = Lookahead(optimizer=base, k=5, alpha=0.5)

        In a config::

            optim_wrapper = dict(optimizer=dict(
                type='Lookahead', optimizer=dict(type='SGD_GC', lr=0.1),
                k=5, alpha=0.5))

    ``param_groups``, ``state`` and ``defaults`` are the inner optimizer's,
    so mmengine's OptimWrapper and parameter schedulers (which write
    ``param_groups[i]['lr']``) act on it directly.
    """

    def __init__(self, params=None, optimizer=None, *, k: int = 5,
                 alpha: float = 0.5, **unknown):
        reject_unknown_kwargs('Lookahead', unknown,
                              ('params', 'optimizer', 'k', 'alpha'))
        check_lookahead_args('Lookahead', k, alpha)
        if isinstance(params, Optimizer) and optimizer is None:
            # Lookahead(base_optimizer, k=..., alpha=...), the usual call.
            params, optimizer = None, params
        self.optimizer = self._build_inner(params, optimizer)
        torch_compat.init_step_hooks(self)
        self.optimizer.defaults.update(lookahead_defaults(k, alpha))
        self._fill_group_defaults()

    @staticmethod
    def _build_inner(params, optimizer) -> Optimizer:
        if isinstance(optimizer, Lookahead):
            raise ValueError('Lookahead got another Lookahead as its '
                             'optimizer; wrap the inner optimizer only once.')
        if isinstance(optimizer, Optimizer):
            if params is not None:
                raise ValueError(
                    'Lookahead got both params and a built optimizer; the '
                    'optimizer already has its parameters, drop params.')
        elif isinstance(optimizer, dict):
            if 'type' not in optimizer:
                raise ValueError(
                    "Lookahead's optimizer config needs a 'type', e.g. "
                    "dict(type='SGD_GC', lr=0.1).")
            if params is None:
                raise ValueError(
                    'Lookahead was given an optimizer config but no params; '
                    'build it through an optim-wrapper constructor, or pass '
                    'params=model.parameters().')
            if 'params' in optimizer:
                raise ValueError(
                    "Put the parameters in Lookahead's params, not in its "
                    'optimizer config.')
            optimizer = OPTIMIZERS.build(dict(optimizer, params=params))
            if isinstance(optimizer, Lookahead):
                raise ValueError('Lookahead cannot wrap another Lookahead.')
        else:
            raise TypeError(
                'Lookahead needs optimizer=<a torch.optim.Optimizer> or '
                f'optimizer=<a config dict>, got {type(optimizer).__name__}.')
        if 'lookahead_k' in optimizer.defaults:
            # Ranger: the outer k/alpha would have no effect and the shared
            # step counter would advance twice per step.
            raise ValueError(
                f'{type(optimizer).__name__} already includes Lookahead '
                f"(k={optimizer.defaults['lookahead_k']}, alpha="
                f"{optimizer.defaults['lookahead_alpha']}); set k and alpha "
                'on it instead of wrapping it in Lookahead.')
        return optimizer

    def _fill_group_defaults(self) -> None:
        defaults = self.optimizer.defaults
        for group in self.optimizer.param_groups:
            for key in ('lookahead_k', 'lookahead_alpha', 'lookahead_step'):
                group.setdefault(key, defaults[key])

    # The inner optimizer's containers, looked up each time: its
    # load_state_dict replaces them with new objects.
    @property
    def param_groups(self) -> List[dict]:
        return self.optimizer.param_groups

    # DeepSpeed ZeRO-1/2 steps one group at a time by swapping in a shorter
    # list; the inner optimizer must step on that list.
    @param_groups.setter
    def param_groups(self, groups: List[dict]) -> None:
        self.optimizer.param_groups = groups

    @property
    def state(self):
        return self.optimizer.state

    @property
    def defaults(self) -> dict:
        return self.optimizer.defaults

    # The placement protocol: GC is whatever the inner optimizer applies,
    # and its step is where the sharded-GC hooks belong.
    @property
    def gc_delegate(self) -> Optimizer:
        return self.optimizer

    def gc_placement(self, group: dict):
        return gc_placement_of(self.optimizer, group)

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure_loss(closure)
        captured = capture_slow_weights(self.param_groups, self.state)
        self.optimizer.step()
        advance_lookahead(self.param_groups, self.state, captured)
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict:
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        self.optimizer.load_state_dict(state_dict)
        # A checkpoint of the bare inner optimizer has no lookahead keys.
        self._fill_group_defaults()

    def add_param_group(self, param_group: dict) -> None:
        self.optimizer.add_param_group(param_group)

    def __getstate__(self) -> dict:
        return {'optimizer': self.optimizer}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        torch_compat.init_step_hooks(self)

    def __repr__(self) -> str:
        return (f'Lookahead(k={self.defaults["lookahead_k"]}, '
                f'alpha={self.defaults["lookahead_alpha"]}, '
                f'optimizer={self.optimizer!r})')
