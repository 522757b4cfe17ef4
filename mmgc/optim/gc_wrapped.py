"""GC for optimizers that know nothing of it: :func:`gc_wrapped`.

``gc_wrapped(AdamW)`` is a cached subclass of AdamW whose ``step()``
centralizes the gradients of the GC-enabled param groups and then runs
AdamW's own step. :class:`~mmgc.engine.GCOptimWrapperConstructor` builds
such classes for torch's, mmengine's and mmpretrain's optimizers;
Whether a class already applies GC comes from the placement protocol
(:func:`mmgc.optim.placement.applies_gc_itself`).
"""
from typing import Dict, Union

import torch
from torch.optim import Optimizer

from mmgc import torch_compat

from ._validation import GC_OPTION_RULES, HyperSpec, gc_location
from .gc_group import GCOptionsMixin
from .gc_ops import centralize, check_not_sparse, gc_applies
from .lookahead import Lookahead
from .gc_coverage import check_gc_at_build
from .placement import (GCPlacement, applies_gc_itself, closure_loss,
                        kernel_gc_args)

__all__ = ['gc_wrapped']

#: Optimizers that update inside one fused kernel, or otherwise take the AMP
#: loss scale themselves, see gradients that are still scaled: no place for
#: GC on the true gradient.
FUSED_REASON = (
    'a fused (or AMP-scale-aware) optimizer receives the gradients still '
    'multiplied by the AMP loss scale and updates the weights inside one '
    'kernel, so GC cannot be applied to the unscaled gradient. Remove '
    'fused=True (foreach=True is fine), or switch GC off')


def _gradient_only(owner: str, group) -> None:
    if gc_location(group.get('gc_loc', True)) != 'gradient':
        raise ValueError(
            f'{owner} centralizes the gradient before the original step '
            "(gc_loc='gradient'); centralizing the final update "
            "(gc_loc='update') needs an optimizer that implements it: "
            'GCAdam, GCAdamW, GCRAdam or Ranger.')


class _GCStepMixin(GCOptionsMixin):
    """The body of every ``GCWrapped<...>`` class (see :func:`gc_wrapped`).

    Only the GC options are described here: the wrapped optimizer checks
    its own hyper-parameters."""

    hyperparameters = HyperSpec(dict(GC_OPTION_RULES),
                                combinations=(_gradient_only, ))
    option_defaults = dict(use_gc=True, gc_conv_only=False, gc_loc=True)

    def __init__(self, *args, use_gc: bool = True, gc_conv_only: bool = False,
                 gc_loc: Union[bool, str] = True, **kwargs):
        # Refused before torch sees it: some torch releases raise their own
        # error for fused=True on CPU first.
        if kwargs.get('fused'):
            raise ValueError(f'{type(self).__name__}: {FUSED_REASON}.')
        # An option the installed torch lacks: say which release adds it.
        torch_compat.check_torch_options(self.wrapped_class, kwargs)
        gc = dict(use_gc=use_gc, gc_conv_only=gc_conv_only, gc_loc=gc_loc)
        self.check_options(gc)
        super().__init__(*args, **kwargs)
        if getattr(self, '_step_supports_amp_scaling', False):
            raise ValueError(f'{type(self).__name__}: {FUSED_REASON}.')
        # The wrapped class laid the groups out; the GC options join them.
        self.defaults.update(gc)
        for group in self.param_groups:
            for key, value in gc.items():
                group.setdefault(key, value)
            self.check_options(group)
        check_gc_at_build(self)

    def gc_placement(self, group: dict):
        # Only p.grad is centralized; what the original step adds (decay,
        # sign) comes after GC.
        if not group['use_gc']:
            return None
        return GCPlacement(group['gc_conv_only'])

    def step(self, closure=None):
        loss = closure_loss(closure)
        originals = []
        try:
            with torch.no_grad():
                for group in self.param_groups:
                    rule, _ = kernel_gc_args(self.gc_placement(group))
                    if rule is None:
                        continue
                    for p in group['params']:
                        if p.grad is None or not gc_applies(p, rule):
                            continue
                        check_not_sparse(p.grad, p, type(self).__name__, rule)
                        originals.append((p, p.grad))
                        p.grad = centralize(p.grad, rule)
            # This class's step already ran torch's step hooks.
            torch_compat.unhooked_step(super().step)()
        finally:
            # The centralized copies were only lent to the step.
            for p, grad in originals:
                p.grad = grad
        return loss


_WRAPPED_CLASSES: Dict[type, type] = {}


def gc_wrapped(optimizer_cls: type) -> type:
    """The GC-enabled subclass of a GC-unaware optimizer class (cached).

    ``GCWrapped<AdamW>`` takes AdamW's arguments plus ``use_gc`` (default
    True) and ``gc_conv_only`` (default False), also per param group. Its
    ``step()`` centralizes the gradients of the GC-enabled groups (GC at the
    ``gc_loc=True`` location) and then runs AdamW's step on them. Under
    mmengine's AmpOptimWrapper this happens after GradScaler unscaled the
    gradients and found them finite.

    ``.grad`` after ``step()``: what backward produced (unscaled by AMP,
    clipped if clipping is on), not the centralized gradient. The centralized
    copies are put in ``.grad`` only while the original step runs.
    """
    if not (isinstance(optimizer_cls, type)
            and issubclass(optimizer_cls, Optimizer)):
        raise TypeError(f'gc_wrapped needs a torch.optim.Optimizer subclass, '
                        f'got {optimizer_cls!r}.')
    if issubclass(optimizer_cls, Lookahead):
        raise ValueError('Wrap the optimizer inside Lookahead, not Lookahead '
                         'itself: Lookahead(optimizer=dict(type=...)).')
    if applies_gc_itself(optimizer_cls):
        raise ValueError(
            f'{optimizer_cls.__name__} applies GC itself; wrapping it would '
            'centralize twice.')
    if optimizer_cls not in _WRAPPED_CLASSES:
        name = f'GCWrapped<{optimizer_cls.__name__}>'
        _WRAPPED_CLASSES[optimizer_cls] = type(
            name, (_GCStepMixin, optimizer_cls), {
                '__module__': __name__,
                'wrapped_class': optimizer_cls,
                '__doc__': f'{optimizer_cls.__name__} with GC applied to the '
                           'gradient before its step (see gc_wrapped).',
            })
    return _WRAPPED_CLASSES[optimizer_cls]
