"""The per-param-group GC options shared by GCSGD, GCAdam(W), GCRAdam,
Ranger and the ``GCWrapped<...>`` classes, and their answer to the placement
protocol (:mod:`mmgc.optim.placement`).

The options live in each param group, not on the optimizer, so mmengine's
``paramwise_cfg.custom_keys`` can switch GC per layer, and they are saved in
the state_dict:

* ``use_gc``: centralize this group's weights at all;
* ``gc_conv_only``: only conv weights (``ndim > 3``) instead of every weight
  with ``ndim > 1``;
* ``gc_loc`` (adaptive optimizers only): ``'gradient'`` centralizes the
  gradient before it enters the moments, ``'update'`` the final update. The
  authors' repository spells them ``True`` and ``False``; both spellings are
  accepted everywhere (:func:`gc_location`).
"""
import difflib

import torch

from .gc_coverage import check_gc_at_build
from .placement import GCPlacement

GC_OPTION_NAMES = ('use_gc', 'gc_conv_only', 'gc_loc')

#: ``gc_loc`` values and the location each names.
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


# Keys torch.optim puts into every group and that mmgc's GC optimizers do not
# implement; each maps to why.
_UNSUPPORTED_FLAGS = {
    'foreach': 'mmgc has only the single-tensor kernel for this optimizer '
               '(leave foreach unset or False; GCSGD, GCAdam and GCAdamW '
               'have a foreach path)',
    'fused': 'a fused kernel updates the weights in one launch and, under '
             'AMP, receives gradients still multiplied by the loss scale, so '
             'there is no unscaled gradient to centralize',
    'differentiable': 'the GC kernels run under no_grad',
    'capturable': 'the GC kernels read the step count on the host',
}


def scalar_dtype() -> torch.dtype:
    """dtype of the ``step`` counter, chosen as torch.optim chooses it (so the
    state layout and bias corrections match torch's)."""
    return (torch.float64 if torch.get_default_dtype() == torch.float64 else
            torch.float32)


def as_float(value) -> float:
    """A hyper-parameter that may be a 1-element tensor, as a Python float."""
    return value.item() if isinstance(value, torch.Tensor) else value


class GCGroupMixin:
    """Adds the GC options to a torch.optim optimizer class.

    A subclass sets ``gc_options`` (the option names it honours) and calls
    :meth:`_init_gc` right after torch's ``__init__``; :meth:`gc_placement`
    answers the placement protocol from the group's options.
    """

    gc_options: tuple = ('use_gc', 'gc_conv_only')

    @classmethod
    def _refuse_unsupported(cls, **flags) -> None:
        for name, value in flags.items():
            if value:
                raise ValueError(
                    f'{cls.__name__} does not support {name}=True: '
                    f'{_UNSUPPORTED_FLAGS[name]}.')

    def _init_gc(self, **options) -> None:
        """Record the GC options as defaults and fill every group that was
        given without them."""
        self.defaults.update(options)
        for group in self.param_groups:
            for key, value in options.items():
                group.setdefault(key, value)
            self._check_gc_group(group)
        # Exact GC on sharded pieces, or an error; a warning when empty.
        check_gc_at_build(self)

    def add_param_group(self, param_group: dict) -> None:
        super().add_param_group(param_group)
        self._check_gc_group(self.param_groups[-1])

    def __setstate__(self, state: dict) -> None:
        # A checkpoint of the torch optimizer (or a group that never had the
        # options) gets this optimizer's configured options, and those an
        # older torch does not know (maximize, decoupled_weight_decay...).
        super().__setstate__(state)
        for group in self.param_groups:
            for key, value in self.defaults.items():
                group.setdefault(key, value)

    def _check_gc_group(self, group: dict) -> None:
        """Refuse GC options this class lacks, misspelt ones (``use_gcc``) and
        non-bool values; torch would keep them silently."""
        name = type(self).__name__
        for key, value in group.items():
            if key == 'gc_loc' and key in self.gc_options:
                try:
                    gc_location(value)
                except ValueError as error:
                    raise ValueError(f'{name}: {error}') from None
                continue
            if key in self.gc_options:
                if not isinstance(value, bool):
                    raise TypeError(
                        f'{name}: {key} must be True or False, got '
                        f'{value!r} ({type(value).__name__}).')
                continue
            if key in self.defaults or key in ('params', 'param_names'):
                continue
            if key in GC_OPTION_NAMES:
                raise ValueError(
                    f"{name} has no '{key}' option"
                    + (": for SGD both GC locations are the same update, so "
                       'there is nothing to choose' if key == 'gc_loc' else '')
                    + f"; its GC options are {', '.join(self.gc_options)}.")
            close = difflib.get_close_matches(key, GC_OPTION_NAMES, n=1)
            if close:
                raise ValueError(
                    f"{name}: unknown param-group key '{key}' (did you mean "
                    f"'{close[0]}'?). GC options: "
                    f"{', '.join(self.gc_options)}.")

    def gc_placement(self, group: dict):
        """The placement protocol: GC of the group as its options set it.

        On the gradient, the kernels centralize ``sign * grad + l2 * w``
        (``maximize`` flips the sign; L2 decay that is not decoupled is
        folded in first); with ``gc_loc='update'`` the final update.
        """
        if not group['use_gc']:
            return None
        conv_only = group['gc_conv_only']
        if ('gc_loc' in self.gc_options
                and gc_location(group['gc_loc']) == 'update'):
            return GCPlacement(conv_only, on_update=True)
        decoupled = group.get('decoupled_weight_decay', False)
        return GCPlacement(
            conv_only, on_update=False,
            sign=-1.0 if group.get('maximize', False) else 1.0,
            l2=0.0 if decoupled else group.get('weight_decay', 0.0))
