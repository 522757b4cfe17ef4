"""Which tensors an optimizer centralizes, and the checks made when it is
built.

:func:`gc_coverage` is the one place that decides, for every tensor an
optimizer holds, whether GC centralizes it and, if not, why. The checks at
build time (:func:`check_gc_at_build`), the warning for GC that centralizes
nothing (:class:`GCEmptyWarning`) and the optim-wrapper constructor's summary
line all read it.
"""
import warnings
import weakref
from typing import Dict, List, Mapping, NamedTuple, Optional, Sequence

import torch
from torch import Tensor

from mmgc.torch_compat import is_fsdp1_flattened

from .gc_ops import gc_applies_to_shape
from .placement import GCPlacement, gc_delegate_of, gc_placement_of
from .sharded_gc import (FSDP_HOW_TO, has_layout, install_sharded_gc,
                         original_tensors)

__all__ = [
    'GCEmptyWarning', 'TensorCoverage', 'gc_coverage', 'check_gc_at_build',
    'check_gc_after_sharding',
    'SKIP_ONE_D', 'SKIP_GC_OFF', 'SKIP_FROZEN', 'SKIP_ONE_ELEMENT_SLICES'
]


class GCEmptyWarning(UserWarning):
    """An optimizer asked for GC centralizes no tensor at all."""


#: Why a tensor is not centralized (besides the GCC rule, whose reason
#: names the tensor's ndim).
SKIP_ONE_D = 'one-dimensional (bias, norm)'
SKIP_GC_OFF = 'GC off for its param group'
SKIP_FROZEN = 'frozen (requires_grad=False)'
SKIP_ONE_ELEMENT_SLICES = ('output slices of one element (GC would remove '
                           'the whole gradient)')


def _outside_gcc(ndim: int) -> str:
    return f'{ndim}-D, outside the GCC rule (conv weights only, ndim > 3)'


class TensorCoverage(NamedTuple):
    """One weight as GC sees it."""

    #: The optimizer's tensor (an FSDP1 piece may hold several weights).
    param: Tensor
    #: The weight's name where the optimizer's tensor tells it (FSDP1
    #: pieces), else None.
    name: Optional[str]
    #: Shape of the weight (the original one behind an FSDP1 piece).
    shape: torch.Size
    #: The group's placement; None when its group gets no GC.
    placement: Optional[GCPlacement]
    #: None when GC centralizes the weight, else why it does not.
    skipped: Optional[str]


def gc_coverage(optimizer) -> List[TensorCoverage]:
    """Every weight of every param group of ``optimizer``, as centralized or
    skipped with the reason, in the order of the groups."""
    listed = []
    for group in optimizer.param_groups:
        placement = gc_placement_of(optimizer, group)
        for p in group['params']:
            for name, shape in original_tensors(p):
                listed.append(
                    TensorCoverage(p, name, shape, placement,
                                   _why_skipped(p, shape, placement)))
    return listed


def _why_skipped(param: Tensor, shape: torch.Size,
                 placement: Optional[GCPlacement]) -> Optional[str]:
    if len(shape) <= 1:
        return SKIP_ONE_D
    if placement is None:
        return SKIP_GC_OFF
    if len(shape) <= 3 and placement.conv_only:
        return _outside_gcc(len(shape))
    if not gc_applies_to_shape(shape, placement.conv_only):
        return SKIP_ONE_ELEMENT_SLICES
    if not param.requires_grad:
        return SKIP_FROZEN
    return None


# --------------------------------------------------------------------------
# Checks at build time
# --------------------------------------------------------------------------
_CHECKED = weakref.WeakSet()
# The optimizers that carry the sharded-GC step hooks (installed once).
_SHARDED = weakref.WeakSet()


def check_gc_at_build(optimizer) -> None:
    """Check an optimizer that may apply GC, once, right after it is built.

    mmgc's optimizers call it at the end of ``__init__``;
    ``GCOptimWrapperConstructor`` and ``GCFSDPStrategy`` call it on every
    optimizer they build, so one from elsewhere that implements the
    placement protocol is checked too. Calling it again does nothing.

    * FSDP1 pieces of known layout: installs the exact sharded GC hooks;
      pieces of unknown layout: raises (GC would silently be off);
    * warns (:class:`GCEmptyWarning`) when GC was asked for and no tensor
      will be centralized;
    * installs a check that runs at the first step and raises if the
      parameters were flattened after the build and nobody registered their
      layout (DeepSpeed ZeRO without ``GCDeepSpeedStrategy``: see
      :func:`~mmgc.optim.gc_coverage.check_gc_after_sharding`).
    """
    optimizer = gc_delegate_of(optimizer)
    if optimizer in _CHECKED:
        return
    _CHECKED.add(optimizer)
    coverage = [c for c in gc_coverage(optimizer) if c.placement is not None]
    if not coverage:
        return
    name = type(optimizer).__name__
    sharded = False
    for c in coverage:
        if has_layout(c.param):
            sharded = True
            if c.placement.on_update and not c.placement.whole_step:
                raise RuntimeError(_partial_step_error(name))
        elif is_fsdp1_flattened(c.param):
            raise _fsdp1_error(name, c.param)
    if all(c.skipped for c in coverage):
        _warn_empty(name, coverage)
    _install_first_step_check(optimizer)
    if sharded:
        _install_sharded_gc_once(optimizer)


def _install_sharded_gc_once(optimizer) -> None:
    if optimizer not in _SHARDED:
        _SHARDED.add(optimizer)
        install_sharded_gc(optimizer)


def check_gc_after_sharding(
        optimizer,
        tensors_by_group: Optional[Mapping[int, Sequence[Tensor]]] = None
) -> int:
    """Check an optimizer whose parameters a sharding engine replaced
    after it was built (DeepSpeed ZeRO), once the engine has registered the
    layout of every new tensor (:func:`~mmgc.optim.sharded_gc.\
register_flat_layout`); install the sharded-GC step hooks.

    Args:
        optimizer: The optimizer that was built (a wrapper such as Lookahead
            is followed to the optimizer that applies GC).
        tensors_by_group: The tensors each param group (by index) will hold
            when it steps, for an engine that puts them in place only for
            the step (ZeRO-3); by default what the groups hold now.

    Returns:
        The number of registered tensors in the param groups that get GC.

    Raises RuntimeError, before the first step, where GC would not be exact:
    a 1-D tensor of unknown layout in a group that gets GC, or an optimizer
    that centralizes its update before the rest of its step (Ranger with
    ``gc_loc=False``).
    """
    optimizer = gc_delegate_of(optimizer)
    name = type(optimizer).__name__
    if tensors_by_group is None:
        tensors_by_group = {
            index: group['params']
            for index, group in enumerate(optimizer.param_groups)
        }
    registered = 0
    for index, tensors in tensors_by_group.items():
        placement = gc_placement_of(optimizer, optimizer.param_groups[index])
        if placement is None:
            continue
        for p in tensors:
            if has_layout(p):
                registered += 1
                if placement.on_update and not placement.whole_step:
                    raise _partial_step_error(name)
            elif p.dim() <= 1 and p.numel() > 1:
                raise RuntimeError(
                    f'{name}: a parameter group that gets GC holds a 1-D '
                    f'tensor of shape {tuple(p.shape)} whose layout the '
                    'sharding engine did not register, so GC would '
                    'silently be off for the weights in it.')
    if registered:
        _install_sharded_gc_once(optimizer)
    return registered


def _warn_empty(name: str, coverage: List[TensorCoverage]) -> None:
    counts: Dict[str, int] = {}
    for c in coverage:
        counts[c.skipped] = counts.get(c.skipped, 0) + 1
    reasons = '; '.join(f'{n} {why}' for why, n in counts.items())
    warnings.warn(
        GCEmptyWarning(
            f'{name} was asked for Gradient Centralization but centralizes '
            f'no tensor: {reasons}. It runs as the plain optimizer. GC acts '
            'on weights with ndim > 1 (ndim > 3 for the GCC rule): check '
            'that the parameters are not all biases/norms, excluded or '
            'frozen, and not flattened by a sharding engine.'),
        stacklevel=4)


def _partial_step_error(name: str) -> RuntimeError:
    return RuntimeError(
        f'{name} with gc_loc=False centralizes its update before the rest of '
        'its step() (Ranger: its built-in Lookahead sync); on FSDP1 pieces '
        'mmgc centralizes the update after the step, which would come after '
        "that. Use Lookahead(optimizer=dict(type='GCRAdam', ...)), which is "
        'exact under FSDP1, or gc_loc=True.')


def _fsdp1_error(name: str, param: Tensor) -> RuntimeError:
    return RuntimeError(
        f'{name} was given parameters that torch FSDP1 '
        '(FullyShardedDataParallel, as built by mmengine\'s FSDPStrategy) '
        f'has flattened and sharded (a 1-D piece of shape '
        f'{tuple(param.shape)}): GC needs the output slices of each weight, '
        'and the pieces do not show them, so GC would silently be off. '
        f'mmgc centralizes FSDP1 pieces exactly when it knows the FSDP '
        f'model. {FSDP_HOW_TO}')


def _install_first_step_check(optimizer) -> None:
    """Refuse, at the first step, a group that held weights to centralize at
    the build and now holds 1-D tensors it was not built with."""
    built = {
        index: {id(p): tuple(p.shape) for p in group['params']}
        for index, group in enumerate(optimizer.param_groups)
        if gc_placement_of(optimizer, group) is not None and any(
            not has_layout(p) and p.dim() > 1 for p in group['params'])
    }
    if not built:
        return

    # torch iterates over the hooks while calling them: the check cannot
    # remove itself, it empties ``built`` instead.
    def check(opt, args, kwargs):
        shapes_by_group = dict(built)
        built.clear()
        for index, shapes in shapes_by_group.items():
            if index >= len(opt.param_groups):
                continue
            for p in opt.param_groups[index]['params']:
                if (shapes.get(id(p)) == tuple(p.shape) or p.dim() > 1
                        or has_layout(p)):
                    continue
                if is_fsdp1_flattened(p):
                    raise _fsdp1_error(type(opt).__name__, p)
                raise RuntimeError(
                    f'{type(opt).__name__}: a parameter group that held '
                    'weights to centralize when the optimizer was built now '
                    f'holds a 1-D tensor of shape {tuple(p.shape)} it was '
                    'not built with. Something flattened the parameters '
                    'after the build (DeepSpeed ZeRO replaces them with flat '
                    'partitions of several weights) without telling mmgc '
                    'their layout, and GC would silently be off. With '
                    "DeepSpeed use strategy=dict(type='GCDeepSpeedStrategy', "
                    "...) (runner_type='FlexibleRunner'), which makes GC "
                    'exact on the ZeRO partitions; with FSDP, '
                    "strategy=dict(type='GCFSDPStrategy').")

    optimizer.register_step_pre_hook(check)
