"""What every optimizer of mmgc's GC families shares: building from the
family's description, the per-param-group GC options and the answer to the
placement protocol (:mod:`mmgc.optim.placement`).

One class per algorithm family (``GCSGD``, ``GCAdam``, ``GCRAdam``,
``Adagrad_GC``) does the math; the paper's optimizers (``SGD_GC``,
``Adam_GCC2``, ...) are specializations that fix what the paper fixed (the
GC rule, its location, the decay mode, the authors' arithmetic) in class
attributes, not second implementations.

The GC options live in each param group, not on the optimizer, so mmengine's
``paramwise_cfg.custom_keys`` can switch GC per layer, and they are saved in
the state_dict: ``use_gc``, ``gc_conv_only`` and, for adaptive optimizers,
``gc_loc`` (:data:`~mmgc.optim._validation.GC_OPTION_NAMES`).
"""
from typing import Mapping

import torch

from mmgc import torch_compat

from ._validation import (GC_OPTION_NAMES, ValidatedGroupsMixin,
                          gc_location, reject_unknown_kwargs)
from .gc_coverage import check_gc_at_build
from .gc_ops import check_not_sparse
from .placement import GCPlacement, closure_loss

__all__ = ['GCGroupMixin', 'GCOptionsMixin', 'GC_OPTION_NAMES', 'gc_location', 'as_float',
           'scalar_dtype']


def scalar_dtype() -> torch.dtype:
    """dtype of the ``step`` counter, chosen as torch.optim chooses it (so the
    state layout and bias corrections match torch's)."""
    return (torch.float64 if torch.get_default_dtype() == torch.float64 else
            torch.float32)


def as_float(value) -> float:
    """A hyper-parameter that may be a 1-element tensor, as a Python float."""
    return value.item() if isinstance(value, torch.Tensor) else value


class GCOptionsMixin(ValidatedGroupsMixin):
    """The GC options of the param groups and the placement answer: what
    every GC optimizer of mmgc has, the ``GCWrapped<...>`` classes too.

    ``gc_options`` (the placement protocol's per-group GC options) are the
    GC options of the class's description that it does not fix.
    """

    gc_options: tuple = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.gc_options = tuple(
            k for k in GC_OPTION_NAMES
            if k in cls.hyperparameters.options and k not in cls.fixed)

    def __setstate__(self, state: dict) -> None:
        # A checkpoint of the torch optimizer, or of an older mmgc, may lack
        # keys (the GC options, maximize, decoupled_weight_decay...): they
        # take this optimizer's configured values. Filled before torch's own
        # __setstate__, which adds keys of its own (differentiable).
        defaults = state.get('defaults', getattr(self, 'defaults', {}))
        for group in state.get('param_groups', ()):
            for key, value in defaults.items():
                group.setdefault(key, value)
        super().__setstate__(state)

    def gc_placement(self, group: dict):
        """The placement protocol: GC of the group as its options set it.

        On the gradient, the kernels centralize ``sign * grad + l2 * w``
        (``maximize`` flips the sign; L2 decay that is not decoupled is
        folded in first); with ``gc_loc='update'`` the final update.
        """
        if not group['use_gc']:
            return None
        conv_only = group['gc_conv_only']
        if 'gc_loc' in group and gc_location(group['gc_loc']) == 'update':
            return GCPlacement(conv_only, on_update=True)
        decoupled = group.get('decoupled_weight_decay', False)
        return GCPlacement(
            conv_only, on_update=False,
            sign=-1.0 if group.get('maximize', False) else 1.0,
            l2=0.0 if decoupled else group.get('weight_decay', 0.0))


class GCGroupMixin(GCOptionsMixin):
    """The shared body of mmgc's GC optimizer families.

    A family class sets ``hyperparameters`` (its
    :class:`~mmgc.optim._validation.HyperSpec`), ``torch_class`` (the torch
    optimizer whose ``__init__`` lays out the groups, so checkpoints move
    between the two) and ``option_defaults`` (what an argument left at None
    means); its ``__init__`` passes every argument to :meth:`_build`. A
    specialization sets ``fixed``: those options take that value, and any
    other value, given or loaded, is refused. The family's step is
    :meth:`_step_group`, called for every group.
    """

    torch_class: type = torch.optim.Optimizer
    option_defaults: Mapping = {}
    #: Whether a ``step`` counter in the state is a tensor (torch's) or an
    #: int (the authors' code).
    tensor_step = True

    def _build(self, params, unknown: Mapping, **given) -> None:
        """Check every option against the family's description, then lay the
        groups out as ``torch_class`` does; the options it lacks (GC's, and
        those of a newer torch) go into ``defaults`` and every group."""
        name = type(self).__name__
        reject_unknown_kwargs(name, unknown, given)
        options = {}
        for key, value in given.items():
            if value is None and key in self.fixed:
                value = self.fixed[key]
            elif value is None and key in self.option_defaults:
                value = self.option_defaults[key]
            options[key] = value
        for key, value in self.fixed.items():  # those __init__ does not take
            options.setdefault(key, value)
        self.check_options(options)
        if self.torch_class is torch.optim.Optimizer:  # no torch twin
            torch.optim.Optimizer.__init__(self, params, options)
        else:
            torch_compat.init_torch_optimizer(self.torch_class, self, params,
                                              **options)
        # Exact GC on sharded pieces, or an error; a warning when empty.
        check_gc_at_build(self)

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure_loss(closure)
        self._update()
        return loss

    def _update(self) -> None:
        # The step body without torch's step hooks, so a subclass that adds
        # to step() (Ranger) does not run the hooks twice.
        for group in self.param_groups:
            self._step_group(group)

    def _step_group(self, group: dict) -> None:
        """One step of one param group: the family's kernel call."""
        raise NotImplementedError

    def _params_with_grad(self, group: dict, conv_only):
        """The group's parameters that have a gradient, refusing what the
        kernels cannot do as torch's counterpart does: a sparse gradient GC
        would centralize, and complex parameters (torch steps them as pairs
        of reals; GC of those would centralize something else)."""
        name = type(self).__name__
        for p in group['params']:
            if p.grad is None:
                continue
            check_not_sparse(p.grad, p, name, conv_only)
            if torch.is_complex(p):
                raise RuntimeError(
                    f'{name} does not support complex parameters (shape '
                    f'{tuple(p.shape)}); use the torch.optim optimizer for '
                    'them.')
            yield p
