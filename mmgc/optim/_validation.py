"""Argument checks shared by mmgc's optimizers: clear errors, no silent
fallbacks."""
import difflib
from typing import Iterable, Mapping

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


def check_non_negative(owner: str, **values) -> None:
    for name, value in values.items():
        if not 0.0 <= value:
            raise ValueError(
                f'{owner}: invalid {name}={value!r}; it must be >= 0.')


def check_betas(owner: str, betas) -> None:
    if len(betas) != 2:
        raise ValueError(f'{owner}: betas must be a pair (beta1, beta2), '
                         f'got {betas!r}.')
    for i, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f'{owner}: invalid betas[{i}]={beta!r}; each '
                             'beta must be in [0, 1).')


def check_nesterov(owner: str, nesterov: bool, momentum: float,
                   dampening: float) -> None:
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError(
            f'{owner}: nesterov=True requires momentum > 0 and dampening = 0 '
            f'(got momentum={momentum!r}, dampening={dampening!r}).')


def check_required_lr(owner: str, lr) -> None:
    if lr is required:
        raise ValueError(f'{owner}: lr is required; pass lr=... in the '
                         'optimizer config.')
    check_non_negative(owner, lr=lr)
