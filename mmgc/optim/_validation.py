"""Argument checks shared by mmgc's optimizers: clear errors, no silent
fallbacks."""
import difflib
import math
import numbers
from typing import Iterable, Mapping

import torch
from torch.optim.optimizer import required


def reject_unknown_kwargs(owner: str, unknown: Mapping,
                          known: Iterable[str]) -> None:
    """Raise a TypeError naming every unexpected keyword, with the closest
    known spelling (``gc_conv_ony`` -> ``gc_conv_only``)."""
    if not unknown:
        return
    known = sorted(known)
    problems = []
    for key in unknown:
        close = difflib.get_close_matches(key, known, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ''
        problems.append(f"'{key}'{hint}")
    raise TypeError(f'{owner} got unexpected keyword argument(s) '
                    f"{', '.join(problems)}. Accepted: {', '.join(known)}.")


def as_number(owner: str, name: str, value) -> float:
    """``value`` as a float: a Python number or a one-element tensor; a
    string from a config, None, a bool or inf/nan is refused by name."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        number = value.item()
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        number = float(value)
    else:
        raise TypeError(
            f'{owner}: {name} must be a number, got {value!r} '
            f'({type(value).__name__}); write it without quotes in the '
            'config.')
    if not math.isfinite(number):
        raise ValueError(
            f'{owner}: {name}={value!r} is not finite; the weights would be '
            'inf/nan after one step.')
    return number


def check_non_negative(owner: str, **values) -> None:
    """Each value is a finite number >= 0."""
    for name, value in values.items():
        if not as_number(owner, name, value) >= 0.0:
            raise ValueError(
                f'{owner}: invalid {name}={value!r}; it must be >= 0.')


def check_momentum(owner: str, momentum) -> None:
    """Momentum in [0, 1): from 1 on, the buffer never forgets and the steps
    grow without bound."""
    if not 0.0 <= as_number(owner, 'momentum', momentum) < 1.0:
        raise ValueError(
            f'{owner}: invalid momentum={momentum!r}; it must be in [0, 1) '
            '(0.9 is usual).')


def check_flags(owner: str, **flags) -> None:
    """Each value is True or False: a string such as 'no' would count as
    True."""
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise TypeError(f'{owner}: {name} must be True or False, got '
                            f'{value!r} ({type(value).__name__}).')


def check_betas(owner: str, betas) -> None:
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f'{owner}: betas must be a pair (beta1, beta2), '
                         f'got {betas!r}.')
    for i, beta in enumerate(betas):
        if not 0.0 <= as_number(owner, f'betas[{i}]', beta) < 1.0:
            raise ValueError(f'{owner}: invalid betas[{i}]={beta!r}; each '
                             'beta must be in [0, 1).')


def check_nesterov(owner: str, nesterov: bool, momentum: float,
                   dampening: float) -> None:
    check_flags(owner, nesterov=nesterov)
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError(
            f'{owner}: nesterov=True requires momentum > 0 and dampening = 0 '
            f'(got momentum={momentum!r}, dampening={dampening!r}).')


def check_required_lr(owner: str, lr) -> None:
    if lr is required:
        raise ValueError(f'{owner}: lr is required; pass lr=... in the '
                         'optimizer config.')
    check_non_negative(owner, lr=lr)


# --------------------------------------------------------------------------
# Checkpoints written by another optimizer
# --------------------------------------------------------------------------
#: Per-parameter state another optimizer may add to ours (Lookahead keeps
#: its slow weights in the inner optimizer's state).
_FOREIGN_STATE_ALLOWED = frozenset({'lookahead_slow'})


class StateFamilyMixin:
    """Refuses, when loading, an optimizer state_dict that another kind of
    optimizer wrote (SGD's ``momentum_buffer`` given to an Adam), instead of
    a KeyError at the first step.

    A subclass names the per-parameter state keys it writes
    (``state_keys``) and the param-group keys its step reads that no other
    family has (``group_keys``). Checkpoints of optimizers with the same
    keys load both ways (SGD <-> SGD_GC, Adam <-> GCAdam).
    """

    state_keys: frozenset = frozenset()
    group_keys: tuple = ()

    def load_state_dict(self, state_dict: dict) -> None:
        name = type(self).__name__
        allowed = self.state_keys | _FOREIGN_STATE_ALLOWED
        foreign = sorted({
            key
            for state in state_dict.get('state', {}).values()
            for key in state if key not in allowed
        })
        missing = sorted({
            key
            for group in state_dict.get('param_groups', [])
            for key in self.group_keys if key not in group
        })
        if foreign or missing:
            found = (f'per-parameter state {foreign}' if foreign else
                     f'param groups without {missing}')
            raise ValueError(
                f'{name} cannot load this optimizer state: it has {found}, '
                f'so another kind of optimizer wrote it ({name} keeps '
                f'{sorted(self.state_keys)} per parameter). To change the '
                'optimizer of a trained model, start from its weights only '
                '(--load-from / load_from=... instead of --resume); to '
                'resume, use the optimizer type the checkpoint was trained '
                'with.')
        super().load_state_dict(state_dict)
