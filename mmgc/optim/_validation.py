"""Hyper-parameter checks of mmgc's optimizers, in one place.

Each optimizer family describes its hyper-parameters once, declaratively
(:class:`HyperSpec`: the kind and range of every option and the
combinations it refuses), and :class:`ValidatedGroupsMixin` applies that
description at every entry where a value can come in: the constructor,
``add_param_group`` and ``load_state_dict``. torch checks only the
constructor's arguments, so ``add_param_group({'params': [p], 'momentum':
2.0})`` would diverge and ``lr='0.1'`` there would end in a raw TypeError at
the first step. The optim-wrapper constructor reads the same descriptions
(:data:`GC_OPTION_RULES`) for the GC options of ``paramwise_cfg``.

Every error names the optimizer, the option, the value and the fix; nothing
falls back silently.
"""
import difflib
import math
import numbers
from typing import Callable, Dict, Iterable, Mapping, NamedTuple, Optional

import torch
from torch.optim.optimizer import required

from mmgc.config_keys import GC_OPTIMIZER_OPTIONS

__all__ = [
    'Hyper', 'HyperSpec', 'ValidatedGroupsMixin', 'as_number',
    'check_group', 'check_value', 'reject_unknown_kwargs', 'same_option',
    'number', 'flag',
    'optional_flag', 'betas', 'off', 'GC_OPTION_NAMES', 'GC_OPTION_RULES',
    'gc_location'
]

# --------------------------------------------------------------------------
# One hyper-parameter
# --------------------------------------------------------------------------
NUMBER, FLAG, OPTIONAL_FLAG, BETAS, GC_LOC, OFF = (
    'number', 'flag', 'optional flag', 'betas', 'gc_loc', 'off')


class Hyper(NamedTuple):
    """How one hyper-parameter is checked."""
    kind: str
    #: NUMBER: values must lie in ``[low, high)`` (``high`` None: no bound).
    low: float = 0.0
    high: Optional[float] = None
    #: NUMBER: advice appended to the range; OFF: why it must stay off.
    note: str = ''


def number(high: Optional[float] = None, note: str = '') -> Hyper:
    """A finite number >= 0 (and < ``high``)."""
    return Hyper(NUMBER, high=high, note=note)


def flag() -> Hyper:
    """True or False; a string such as 'no' would count as True."""
    return Hyper(FLAG)


def optional_flag() -> Hyper:
    """True, False or None (``foreach``: None lets the optimizer choose)."""
    return Hyper(OPTIONAL_FLAG)


def betas() -> Hyper:
    """A pair of numbers in [0, 1)."""
    return Hyper(BETAS)


def off(reason: str) -> Hyper:
    """An option that exists for signature parity with torch and must stay
    off (``fused``, ``capturable``, ...)."""
    return Hyper(OFF, note=reason)


#: The GC options of mmgc's optimizers, kept per param group so that
#: mmengine's ``paramwise_cfg.custom_keys`` can set them per layer:
#: ``use_gc`` (centralize this group at all), ``gc_conv_only`` (only conv
#: weights, ``ndim > 3``) and ``gc_loc`` (adaptive optimizers: the gradient
#: before the moments, or the final update).
GC_OPTION_NAMES = GC_OPTIMIZER_OPTIONS
GC_OPTION_RULES: Dict[str, Hyper] = dict(use_gc=flag(), gc_conv_only=flag(),
                                          gc_loc=Hyper(GC_LOC))

#: ``gc_loc`` values and the location each names (the authors' repository
#: spells them True and False).
GC_LOCATIONS = {'gradient': 'gradient', 'update': 'update',
                True: 'gradient', False: 'update'}


def gc_location(value) -> str:
    """``'gradient'`` or ``'update'`` for a ``gc_loc`` value (also the
    authors' ``True``/``False``); a ValueError for anything else."""
    if isinstance(value, (bool, str)) and value in GC_LOCATIONS:
        return GC_LOCATIONS[value]
    raise ValueError(
        f"gc_loc must be 'gradient' (centralize the gradient before the "
        f"moments; True in the authors' code) or 'update' (centralize the "
        f'final update; False), got {value!r}.')


def as_number(owner: str, name: str, value) -> float:
    """``value`` as a float: a Python number or a one-element tensor; a
    string from a config, None, a bool or inf/nan is refused by name."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        number_ = value.item()
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        number_ = float(value)
    else:
        raise TypeError(
            f'{owner}: {name} must be a number, got {value!r} '
            f'({type(value).__name__}); write it without quotes in the '
            'config.')
    if not math.isfinite(number_):
        raise ValueError(
            f'{owner}: {name}={value!r} is not finite; the weights would be '
            'inf/nan after one step.')
    return number_


def _check_flag(owner: str, name: str, value) -> None:
    if not isinstance(value, bool):
        raise TypeError(f'{owner}: {name} must be True or False, got '
                        f'{value!r} ({type(value).__name__}).')


def check_value(owner: str, name: str, value, rule: Hyper) -> None:
    """Raise, naming ``owner``, ``name``, the value and the fix, if
    ``value`` breaks ``rule``."""
    if rule.kind == NUMBER:
        if value is required:
            raise ValueError(f'{owner}: {name} is required; pass {name}=... '
                             'in the optimizer config.')
        x = as_number(owner, name, value)
        if rule.high is None and not x >= rule.low:
            raise ValueError(f'{owner}: invalid {name}={value!r}; it must be '
                             f'>= {rule.low:g}.')
        if rule.high is not None and not rule.low <= x < rule.high:
            note = f' ({rule.note})' if rule.note else ''
            raise ValueError(
                f'{owner}: invalid {name}={value!r}; it must be in '
                f'[{rule.low:g}, {rule.high:g}){note}.')
    elif rule.kind == FLAG:
        _check_flag(owner, name, value)
    elif rule.kind == OPTIONAL_FLAG:
        if value is not None:
            _check_flag(owner, name, value)
    elif rule.kind == BETAS:
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise ValueError(f'{owner}: betas must be a pair (beta1, beta2), '
                             f'got {value!r}.')
        for i, beta in enumerate(value):
            if not 0.0 <= as_number(owner, f'{name}[{i}]', beta) < 1.0:
                raise ValueError(f'{owner}: invalid {name}[{i}]={beta!r}; '
                                 'each beta must be in [0, 1).')
    elif rule.kind == GC_LOC:
        try:
            gc_location(value)
        except ValueError as error:
            raise ValueError(f'{owner}: {error}') from None
    elif rule.kind == OFF:
        if value:
            raise ValueError(f'{owner} does not support {name}=True: '
                             f'{rule.note}.')
    else:
        raise AssertionError(f'unknown kind {rule.kind!r}')


# --------------------------------------------------------------------------
# A family's hyper-parameters
# --------------------------------------------------------------------------
#: A check of a combination: ``rule(owner, group)`` raises if it is refused.
Combination = Callable[[str, Mapping], None]


class HyperSpec(NamedTuple):
    """The hyper-parameters of an optimizer family: each option's rule and
    the combinations it refuses."""
    options: Mapping[str, Hyper]
    combinations: tuple = ()


def nesterov_needs_momentum(owner: str, group: Mapping) -> None:
    if group.get('nesterov') and (group.get('momentum', 0) <= 0
                                  or group.get('dampening', 0) != 0):
        raise ValueError(
            f'{owner}: nesterov=True requires momentum > 0 and dampening = 0 '
            f"(got momentum={group.get('momentum')!r}, "
            f"dampening={group.get('dampening')!r}).")


def same_option(name: str, value, fixed) -> bool:
    """Whether two values of an option mean the same (a list and a tuple of
    the same items do; so do ``gc_loc='update'`` and the authors' False)."""
    if value == fixed:
        return True
    if name == 'gc_loc':  # 'update' and the authors' False are one place
        try:
            return gc_location(value) == gc_location(fixed)
        except ValueError:
            return False
    if isinstance(value, list) or isinstance(fixed, list):
        value, fixed = (tuple(v) if isinstance(v, (list, tuple)) else v
                        for v in (value, fixed))
    return value == fixed


def check_group(owner: str, spec: HyperSpec, group: Mapping,
                fixed: Mapping = ()) -> None:
    """Check every option ``spec`` describes that ``group`` holds, the
    combinations, the options the class fixes (``fixed``), and that no key
    is a misspelt or absent GC option (torch would keep it unread)."""
    fixed = dict(fixed)
    for name, rule in spec.options.items():
        if name in group:
            check_value(owner, name, group[name], rule)
    for name, value in fixed.items():
        if name in group and not same_option(name, group[name], value):
            raise ValueError(
                f'{owner} fixes {name}={value!r} (the rule of its name), got '
                f'{name}={group[name]!r}. For {name} chosen per layer use '
                'GCSGD, GCAdam, GCAdamW, GCRAdam or Ranger.')
    for combination in spec.combinations:
        combination(owner, group)
    for key in group:
        if key in spec.options or key in ('params', 'param_names'):
            continue
        if key in GC_OPTION_NAMES:
            raise ValueError(
                f"{owner} has no '{key}' option"
                + (': for SGD both GC locations are the same update, so '
                   'there is nothing to choose' if key == 'gc_loc' else '')
                + '; its GC options are '
                + (', '.join(k for k in GC_OPTION_NAMES if k in spec.options)
                   or 'none') + '.')
        close = difflib.get_close_matches(key, GC_OPTION_NAMES, n=1)
        if close:
            raise ValueError(
                f"{owner}: unknown param-group key '{key}' (did you mean "
                f"'{close[0]}'?).")


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


# --------------------------------------------------------------------------
# The optimizer side
# --------------------------------------------------------------------------
#: Per-parameter state another optimizer may add to ours (Lookahead keeps
#: its slow weights in the inner optimizer's state).
_FOREIGN_STATE_ALLOWED = frozenset({'lookahead_slow'})


class ValidatedGroupsMixin:
    """Applies a family's :class:`HyperSpec` at every entry and refuses an
    optimizer state that another kind of optimizer wrote.

    A class sets ``hyperparameters`` (its family's description), ``fixed``
    (options the class fixes: the paper's optimizers fix the GC rule and the
    decay mode), ``state_keys`` (the per-parameter state it writes) and
    ``group_keys`` (param-group keys its step reads that no other family
    has). Checkpoints of optimizers with the same keys load both ways (SGD
    <-> SGD_GC, Adam <-> GCAdam); SGD's ``momentum_buffer`` given to an Adam
    is an error here instead of a KeyError at the first step.
    """

    hyperparameters = HyperSpec({})
    fixed: Mapping = {}
    state_keys: frozenset = frozenset()
    group_keys: tuple = ()

    def check_options(self, options: Mapping) -> None:
        """Check constructor arguments or a param group (merged with the
        defaults) against the family's description."""
        check_group(type(self).__name__, self.hyperparameters, options,
                    self.fixed)

    def add_param_group(self, param_group: dict) -> None:
        # Checked before it joins: a refused group is not left behind.
        if isinstance(param_group, dict):
            self.check_options({
                **getattr(self, 'defaults', {}),
                **{k: v for k, v in param_group.items() if k != 'params'}
            })
        super().add_param_group(param_group)

    def load_state_dict(self, state_dict: dict) -> None:
        name = type(self).__name__
        if not self.state_keys:  # a class of unknown family (gc_wrapped)
            return super().load_state_dict(state_dict)
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
        for group in state_dict.get('param_groups', []):
            self.check_options({**self.defaults, **group})
        super().load_state_dict(state_dict)
