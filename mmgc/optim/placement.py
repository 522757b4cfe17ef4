"""The GC placement protocol: how an optimizer says where it applies GC.

Every part of mmgc that needs to know whether a param group gets GC, under
which rule and where in the step (sharded GC, the build-time checks, the
optim-wrapper constructor's summary, the GC statistics hook, the guard
against centralizing twice) asks the optimizer, never its class name:

* ``optimizer.gc_placement(group)`` returns a :class:`GCPlacement` for a
  param group that gets GC, ``None`` for one that does not. An optimizer
  without this method applies no GC;
* the optional class attribute ``gc_options`` names the per-group GC options
  the optimizer reads (``('use_gc', 'gc_conv_only', 'gc_loc')`` for GCAdam;
  empty for a fixed rule such as ``SGD_GC``);
* a wrapper that leaves the step to an inner optimizer (Lookahead) answers
  by asking it, and names it in ``gc_delegate`` so that the step hooks of
  sharded GC go on the optimizer whose step applies GC.

An optimizer outside mmgc that implements ``gc_placement`` gets everything
mmgc's own get: exact GC on FSDP1 pieces when built through
``GCOptimWrapperConstructor`` or ``GCFSDPStrategy``, and its line in the
constructor's summary.
"""
from typing import NamedTuple, Optional, Tuple

import torch

__all__ = [
    'GCPlacement', 'gc_placement_of', 'gc_rule_of', 'applies_gc_itself',
    'gc_delegate_of', 'kernel_gc_args', 'closure_loss'
]


class GCPlacement(NamedTuple):
    """Where and how an optimizer applies GC to one param group.

    ``on_update=False``: the kernel centralizes the direction
    ``sign * grad + l2 * weight`` before anything else uses it (the paper's
    Algorithms 1 and 2); ``on_update=True``: it centralizes the final update
    ``w_before - w_after`` of the step (the GC2 variants, ``gc_loc='update'``).
    """

    #: True for the GCC rule (only ``ndim > 3``, conv weights), False for GC
    #: (every ``ndim > 1``).
    conv_only: bool
    #: GC acts on the final update instead of the gradient.
    on_update: bool = False
    #: -1 when the kernel centralizes ``-grad`` (``maximize=True``).
    sign: float = 1.0
    #: The L2 decay the kernel adds to the gradient before GC (0 when there
    #: is none or it is decoupled).
    l2: float = 0.0
    #: Whether, with ``on_update``, the whole change a ``step()`` makes to
    #: the weight is that update; False when the step does more after GC
    #: (Ranger's built-in Lookahead sync).
    whole_step: bool = True

    @property
    def location(self) -> str:
        """``'gradient'`` or ``'update'``, as the kernels spell it."""
        return 'update' if self.on_update else 'gradient'


def gc_placement_of(optimizer, group: dict) -> Optional[GCPlacement]:
    """The optimizer's answer for ``group``; None for an optimizer that does
    not implement the protocol (it applies no GC)."""
    answer = getattr(optimizer, 'gc_placement', None)
    return None if answer is None else answer(group)


def kernel_gc_args(
        placement: Optional[GCPlacement]) -> Tuple[Optional[bool], str]:
    """``(conv_only, location)`` as the kernels take them; ``conv_only`` is
    None for a group that gets no GC."""
    if placement is None:
        return None, 'gradient'
    return placement.conv_only, placement.location


def gc_rule_of(optimizer, group: dict) -> Optional[bool]:
    """``conv_only`` of the group's GC, or None when it gets none."""
    placement = gc_placement_of(optimizer, group)
    return None if placement is None else placement.conv_only


def applies_gc_itself(optimizer_cls: type) -> bool:
    """Whether instances of the class apply GC (or delegate it) themselves:
    adding GC around them would centralize twice."""
    return callable(getattr(optimizer_cls, 'gc_placement', None))


def gc_delegate_of(optimizer):
    """The optimizer whose ``step()`` applies GC: the innermost
    ``gc_delegate`` of a wrapper, else the optimizer itself."""
    while getattr(optimizer, 'gc_delegate', None) is not None:
        optimizer = optimizer.gc_delegate
    return optimizer


def closure_loss(closure):
    """What every ``step(closure)`` of mmgc does first: re-evaluate the
    loss with gradients on (the step itself runs under no_grad)."""
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()
