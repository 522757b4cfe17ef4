"""Every rank of a distributed run must build the same optimizer.

Data-parallel training assumes it: DDP averages the gradients and every
rank then steps its own optimizer, so ranks whose optimizers differ (SGD_GC
on one, SGD on another, from a rank-dependent ``--cfg-options`` or
environment variable) silently train different weights and exit 0; under
FSDP1, mmgc's exact GC adds an all-reduce to the step of a GC optimizer, so
a rank without GC never joins it and the job hangs in its first iteration.

:class:`OptimizerConsistencyHook` compares, before the first iteration, a
description of every rank's optimizer (type, per-group GC placement,
hyper-parameters, optim wrapper) and stops every rank with an error naming
what differs. It works with mmengine's Runner (DDP, mmgc's CPU DDP wrapper)
and FlexibleRunner (FSDP, ``GCFSDPStrategy``) alike; ``tools/train.py``
adds it to every config.
"""
from typing import Dict, List

import torch
from mmengine.dist import all_gather_object, get_world_size, is_distributed
from mmengine.hooks import Hook

from mmgc.optim.placement import gc_placement_of

__all__ = ['OptimizerConsistencyHook', 'describe_optim_wrapper',
           'RankMismatchError']

_PLAIN = (bool, int, float, str, type(None))


class RankMismatchError(RuntimeError):
    """The ranks of a distributed run built different optimizers."""


def _plain(value):
    """The value if it can be compared across processes as it is, else
    None."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, (tuple, list)) and all(
            isinstance(v, _PLAIN) for v in value):
        return tuple(value)
    return None


def _optimizer_name(optimizer) -> str:
    inner = getattr(optimizer, 'optimizer', None)
    name = type(optimizer).__name__
    if isinstance(inner, torch.optim.Optimizer) and inner is not optimizer:
        return f'{name}({_optimizer_name(inner)})'
    return name


def _placement_text(optimizer, group: dict) -> str:
    placement = gc_placement_of(optimizer, group)
    if placement is None:
        return 'no GC'
    rule = 'GCC (conv weights)' if placement.conv_only else 'GC (ndim > 1)'
    return (f'{rule} on the {placement.location}, sign {placement.sign}, '
            f'L2 folded in {placement.l2}')


def describe_optim_wrapper(optim_wrapper) -> Dict[str, object]:
    """What must be equal on every rank: per optim wrapper its type,
    gradient accumulation and clipping, the optimizer type, and per param
    group the GC placement (``mmgc.optim.gc_placement_of``), the number of
    tensors and every plain hyper-parameter (lr, momentum, weight_decay,
    betas, GC options, ...)."""
    wrappers = (optim_wrapper.optim_wrappers.items() if hasattr(
        optim_wrapper, 'optim_wrappers') else [('', optim_wrapper)])
    described: Dict[str, object] = {}
    for name, wrapper in wrappers:
        prefix = f'{name}.' if name else ''
        optimizer = wrapper.optimizer
        described[f'{prefix}optim wrapper'] = type(wrapper).__name__
        described[f'{prefix}accumulative_counts'] = getattr(
            wrapper, '_accumulative_counts', None)
        clip = getattr(wrapper, 'clip_grad_kwargs', None) or {}
        described[f'{prefix}clip_grad'] = repr(sorted(clip.items()))
        described[f'{prefix}optimizer'] = _optimizer_name(optimizer)
        described[f'{prefix}param groups'] = len(optimizer.param_groups)
        for index, group in enumerate(optimizer.param_groups):
            key = f'{prefix}group {index}'
            described[f'{key} GC'] = _placement_text(optimizer, group)
            described[f'{key} tensors'] = len(group['params'])
            for option, value in sorted(group.items()):
                if option != 'params' and _plain(value) is not None:
                    described[f'{key} {option}'] = _plain(value)
    return described


def _ranks_text(ranks: List[int]) -> str:
    return ('rank ' if len(ranks) == 1 else 'ranks ') + ', '.join(
        map(str, ranks))


def _value_text(description: Dict[str, object], key: str) -> str:
    if key not in description:
        return '(not set)'
    value = description[key]
    return value if isinstance(value, str) else repr(value)


def mismatch_message(descriptions: List[Dict[str, object]],
                     show: int = 6) -> str:
    """The error for differing descriptions (one per rank); '' when they
    agree."""
    keys = list(dict.fromkeys(k for d in descriptions for k in d))
    differing = [
        k for k in keys
        if len({_value_text(d, k) for d in descriptions}) > 1
    ]
    if not differing:
        return ''
    lines = []
    for key in differing[:show]:
        by_value: Dict[str, List[int]] = {}
        for rank, description in enumerate(descriptions):
            by_value.setdefault(_value_text(description, key),
                                []).append(rank)
        lines.append(f'  {key}: ' + '; '.join(
            f'{_ranks_text(ranks)} {value}'
            for value, ranks in by_value.items()))
    more = (f'\n  ... and {len(differing) - show} more'
            if len(differing) > show else '')
    summary = '; '.join(
        f'{_ranks_text(ranks)} built {name}'
        for name, ranks in _group_ranks(descriptions, 'optimizer').items())
    return (
        f'The {len(descriptions)} ranks of this run built different '
        f'optimizers ({summary}). Data-parallel training needs the same '
        'optimizer on every rank: with DDP the ranks would train different '
        'weights, with FSDP they would wait for each other forever. What '
        'differs:\n' + '\n'.join(lines) + more + '\nLook for settings that '
        'differ between the processes: --cfg-options or environment '
        'variables the config reads.')


def _group_ranks(descriptions, suffix: str) -> Dict[str, List[int]]:
    grouped: Dict[str, List[int]] = {}
    for rank, description in enumerate(descriptions):
        names = [str(v) for k, v in description.items()
                 if k == suffix or k.endswith('.' + suffix)]
        grouped.setdefault(', '.join(names) or '?', []).append(rank)
    return grouped


class OptimizerConsistencyHook(Hook):
    """Stop a distributed run whose ranks built different optimizers.

    Before training starts, every rank gathers every rank's
    :func:`describe_optim_wrapper`; if they differ, every rank raises
    :class:`RankMismatchError` with what differs on which ranks. One
    process: nothing to compare. ``tools/train.py`` adds it to every
    config; elsewhere::

        custom_hooks = [dict(type='OptimizerConsistencyHook')]
    """

    priority = 'VERY_HIGH'  # before other hooks start collective work

    def before_train(self, runner) -> None:
        if not is_distributed() or get_world_size() < 2:
            return
        descriptions = all_gather_object(
            describe_optim_wrapper(runner.optim_wrapper))
        message = mismatch_message(descriptions)
        if message:
            raise RankMismatchError(message)
