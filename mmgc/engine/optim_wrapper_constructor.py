"""Choosing the GC layers from a config, and GC for any optimizer.

:class:`GCOptimWrapperConstructor` is mmengine's default constructor plus:

* GC options in ``paramwise_cfg`` (defaults for every parameter, and rules by
  module type), and ``use_gc`` / ``gc_conv_only`` / ``gc_loc`` in
  ``custom_keys`` (by parameter name, they win over everything else);
* GC for optimizers that know nothing of it (torch's AdamW, mmpretrain's
  LAMB, ...): the optimizer is built from a cached subclass of its class,
  :func:`gc_wrapped`, whose ``step()`` centralizes the gradients of the
  GC-enabled groups and then runs the original step;
* one log line saying which tensors get GC and why the others do not;
* clear errors for misspelt GC keys (mmengine would copy them into the param
  group, where the optimizer ignores them) and for ``fused=True``.
"""
import copy
import difflib
import inspect
import logging
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS, OPTIMIZERS
from torch import nn
from torch.optim import Optimizer

from mmgc import compat
from mmgc.optim._validation import reject_unknown_kwargs
from mmgc.optim.gc_group import GC_OPTION_NAMES, GCGroupMixin, gc_location
from mmgc.optim.gc_ops import centralize, check_not_sparse, gc_applies
from mmgc.optim.lookahead import Lookahead
from mmgc.optim.sharded_gc import (gc_applies_to_shape, gc_shapes,
                                   register_fsdp_model)

__all__ = ['GCOptimWrapperConstructor', 'gc_wrapped', 'gc_rule_of']

#: Optimizers that update inside one fused kernel, or otherwise take the AMP
#: loss scale themselves, see gradients that are still scaled: no place for
#: GC on the true gradient.
_FUSED_REASON = (
    'a fused (or AMP-scale-aware) optimizer receives the gradients still '
    'multiplied by the AMP loss scale and updates the weights inside one '
    'kernel, so GC cannot be applied to the unscaled gradient. Remove '
    'fused=True (foreach=True is fine), or switch GC off')


# --------------------------------------------------------------------------
# GC for any optimizer
# --------------------------------------------------------------------------
class _GCStepMixin(GCGroupMixin):
    """The body of every ``GCWrapped<...>`` class (see :func:`gc_wrapped`)."""

    gc_options = ('use_gc', 'gc_conv_only', 'gc_loc')

    def __init__(self, *args, use_gc: bool = True, gc_conv_only: bool = False,
                 gc_loc: bool = True, **kwargs):
        # Refused before torch sees it: some torch releases raise their own
        # error for fused=True on CPU first.
        if kwargs.get('fused'):
            raise ValueError(f'{type(self).__name__}: {_FUSED_REASON}.')
        # An option the installed torch lacks: say which release adds it.
        compat.check_torch_options(self.wrapped_class, kwargs)
        super().__init__(*args, **kwargs)
        if getattr(self, '_step_supports_amp_scaling', False):
            raise ValueError(f'{type(self).__name__}: {_FUSED_REASON}.')
        self._init_gc(use_gc=use_gc, gc_conv_only=gc_conv_only,
                      gc_loc=gc_loc)

    def _check_gc_group(self, group: dict) -> None:
        super()._check_gc_group(group)
        if gc_location(group.get('gc_loc', True)) != 'gradient':
            raise ValueError(
                f'{type(self).__name__} centralizes the gradient before the '
                "original step (gc_loc='gradient'); centralizing the final "
                "update (gc_loc='update') needs an optimizer that "
                'implements it: GCAdam, GCAdamW, GCRAdam or Ranger.')

    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        originals = []
        try:
            with torch.no_grad():
                for group in self.param_groups:
                    rule = self._gc_rule(group)
                    if rule is None:
                        continue
                    for p in group['params']:
                        if p.grad is None or not gc_applies(p, rule):
                            continue
                        check_not_sparse(p.grad, p, type(self).__name__, rule)
                        originals.append((p, p.grad))
                        p.grad = centralize(p.grad, rule)
            # This class's step already ran torch's step hooks.
            compat.unhooked_step(super().step)()
        finally:
            # The centralized copies were only lent to the step.
            for p, grad in originals:
                p.grad = grad
        return loss


_WRAPPED_CLASSES: Dict[type, type] = {}


def applies_gc_itself(optimizer_cls: type) -> bool:
    """Whether the class centralizes by itself (mmgc's GC* classes, Ranger,
    the paper optimizers, and wrapped classes)."""
    from mmgc.optim import PAPER_OPTIMIZERS
    return (hasattr(optimizer_cls, 'gc_options')
            or issubclass(optimizer_cls, tuple(PAPER_OPTIMIZERS)))


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
    if applies_gc_itself(optimizer_cls):
        raise ValueError(
            f'{optimizer_cls.__name__} applies GC itself; wrapping it would '
            'centralize twice.')
    if issubclass(optimizer_cls, Lookahead):
        raise ValueError('Wrap the optimizer inside Lookahead, not Lookahead '
                         'itself: Lookahead(optimizer=dict(type=...)).')
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


def gc_rule_of(optimizer: Optimizer, group: dict) -> Optional[bool]:
    """``gc_conv_only`` of a param group's GC, or None when the group gets no
    GC. Works for mmgc's GC optimizers, wrapped ones, Lookahead around them,
    the paper optimizers, and says None for anything else."""
    defaults = optimizer.defaults
    if 'use_gc' in group or 'use_gc' in defaults:
        if not group.get('use_gc', defaults.get('use_gc')):
            return None
        return bool(group.get('gc_conv_only',
                              defaults.get('gc_conv_only', False)))
    from mmgc.optim import PAPER_OPTIMIZERS
    inner = getattr(optimizer, 'optimizer', optimizer)
    if isinstance(inner, tuple(PAPER_OPTIMIZERS)):
        return bool(inner.conv_only)
    return None


# --------------------------------------------------------------------------
# The constructor
# --------------------------------------------------------------------------
_MMENGINE_PARAMWISE_KEYS = ('custom_keys', 'bias_lr_mult', 'bias_decay_mult',
                            'norm_decay_mult', 'dwconv_decay_mult',
                            'flat_decay_mult', 'dcn_offset_lr_mult',
                            'bypass_duplicate')
_GC_PARAMWISE_KEYS = GC_OPTION_NAMES + ('gc_module_types',
                                        'gc_exclude_module_types')
# Keys mmengine copies from custom_keys into the group besides the
# optimizer's own.
_CUSTOM_KEY_EXTRAS = ('lr_mult', 'decay_mult')
_NAMES_SHOWN = 5


class GCOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """mmengine's default constructor with per-layer GC control.

    ``paramwise_cfg`` accepts mmengine's keys plus:

    * ``use_gc`` / ``gc_conv_only`` / ``gc_loc``: the default for every
      parameter (otherwise the optimizer's own default; for optimizers that
      know nothing of GC, ``use_gc=True, gc_conv_only=False``);
    * ``gc_module_types``: only parameters owned directly by modules of these
      types get GC (class names such as ``'Conv2d'`` match the class and its
      subclasses, or classes);
    * ``gc_exclude_module_types``: parameters of these module types never
      get GC;
    * ``custom_keys={'head.fc': dict(use_gc=False)}``: by parameter name, as
      mmengine matches ``lr_mult``; this wins over the rules above.

    Example::

        optim_wrapper = dict(
            constructor='GCOptimWrapperConstructor',
            optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
            paramwise_cfg=dict(
                gc_conv_only=False,
                custom_keys={'roi_head.bbox_head.fc_cls': dict(use_gc=False)}))

    Like mmengine's constructor with any ``paramwise_cfg``, it builds one
    param group per parameter and leaves out frozen parameters.
    """

    def __init__(self, optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None):
        paramwise_cfg = dict(paramwise_cfg or {})
        reject_unknown_kwargs(
            'GCOptimWrapperConstructor paramwise_cfg',
            {k: v for k, v in paramwise_cfg.items()
             if k not in _MMENGINE_PARAMWISE_KEYS + _GC_PARAMWISE_KEYS},
            _MMENGINE_PARAMWISE_KEYS + _GC_PARAMWISE_KEYS)
        self.gc_cfg = {
            key: paramwise_cfg.pop(key)
            for key in _GC_PARAMWISE_KEYS if key in paramwise_cfg
        }
        if 'gc_loc' in self.gc_cfg:
            try:
                gc_location(self.gc_cfg['gc_loc'])
            except ValueError as error:
                raise TypeError(f'paramwise_cfg.{error}') from None
        for key in ('use_gc', 'gc_conv_only'):
            if key in self.gc_cfg and not isinstance(self.gc_cfg[key], bool):
                raise TypeError(
                    f'paramwise_cfg.{key} must be True or False, got '
                    f'{self.gc_cfg[key]!r}.')
        for key in ('gc_module_types', 'gc_exclude_module_types'):
            value = self.gc_cfg.get(key, ())
            if isinstance(value, (str, type)):
                value = (value, )
            if not all(isinstance(v, (str, type)) for v in value):
                raise TypeError(
                    f'paramwise_cfg.{key} must be a list of module class '
                    f"names (e.g. ['Conv2d']) or classes, got {value!r}.")
            self.gc_cfg[key] = tuple(value)
        super().__init__(optim_wrapper_cfg, paramwise_cfg)
        self._check_custom_keys()

    def _validate_cfg(self) -> None:
        # For Lookahead, lr and weight_decay are in the inner config; mmengine
        # needs them for lr_mult / decay_mult.
        inner = self.optimizer_cfg.get('optimizer')
        if isinstance(inner, dict):
            if self.base_lr is None:
                self.base_lr = inner.get('lr')
            if self.base_wd is None:
                self.base_wd = inner.get('weight_decay')
        super()._validate_cfg()

    def _check_custom_keys(self) -> None:
        for pattern, options in self.paramwise_cfg.get('custom_keys',
                                                       {}).items():
            for key, value in options.items():
                if key in GC_OPTION_NAMES:
                    if not isinstance(value, bool):
                        raise TypeError(
                            f"paramwise_cfg.custom_keys['{pattern}'].{key} "
                            f'must be True or False, got {value!r}.')
                    continue
                close = difflib.get_close_matches(key, GC_OPTION_NAMES, n=1)
                if close and key not in _CUSTOM_KEY_EXTRAS:
                    raise ValueError(
                        f"paramwise_cfg.custom_keys['{pattern}'] has the "
                        f"unknown key '{key}' (did you mean '{close[0]}'?). "
                        'mmengine would copy it into the param group, where '
                        'no optimizer reads it.')

    # ----------------------------------------------------------------------
    def __call__(self, model: nn.Module) -> OptimWrapper:
        # FSDP1 hands the optimizer flat pieces: record the original shapes
        # first, so that GC on them is exact (mmgc.optim.sharded_gc).
        register_fsdp_model(model)
        if hasattr(model, 'module'):
            model = model.module
        optim_wrapper_cfg = self.optim_wrapper_cfg.copy()
        optim_wrapper_cfg.setdefault('type', 'OptimWrapper')
        _refuse_deepspeed(optim_wrapper_cfg['type'])
        optimizer_cfg = copy.copy(self.optimizer_cfg)
        optimizer_cls = self._resolve(optimizer_cfg['type'])
        target_cfg, target_cls = self._gc_target(optimizer_cfg, optimizer_cls)

        params: List[dict] = []
        self.add_params(params, model)
        owners = _parameter_owners(model)
        reasons = self._assign_gc_options(params, owners)

        if applies_gc_itself(target_cls):
            self._check_self_applying(target_cls, params)
        else:
            if target_cfg.get('fused'):
                raise ValueError(
                    f'{target_cls.__name__}(fused=True) with GC: '
                    f'{_FUSED_REASON}.')
            target_cfg['type'] = gc_wrapped(target_cls)

        first_arg = next(iter(inspect.signature(optimizer_cls).parameters))
        optimizer_cfg[first_arg] = params
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        self._check_group_keys(optimizer)
        line, centralized = _summary(model, optimizer, owners, reasons)
        # Nothing centralized although GC was asked for: say so loudly.
        print_log(line, logger='current',
                  level=logging.INFO if centralized else logging.WARNING)
        return OPTIM_WRAPPERS.build(optim_wrapper_cfg,
                                    default_args=dict(optimizer=optimizer))

    @staticmethod
    def _resolve(optimizer_type) -> type:
        if not isinstance(optimizer_type, str):
            return optimizer_type
        with OPTIMIZERS.switch_scope_and_registry(None) as registry:
            optimizer_cls = registry.get(optimizer_type)
        if optimizer_cls is None:
            raise KeyError(
                f"Optimizer type '{optimizer_type}' is not registered. Is it "
                "spelt right, and is its package in custom_imports (e.g. "
                "custom_imports=dict(imports=['mmgc']))?")
        return optimizer_cls

    def _gc_target(self, optimizer_cfg: dict,
                   optimizer_cls: type) -> Tuple[dict, type]:
        """The config and class that do the gradient step: the optimizer, or
        the inner one of a Lookahead (whose config is copied, so it can be
        changed)."""
        if isinstance(optimizer_cls, type) and issubclass(
                optimizer_cls, Lookahead):
            inner = optimizer_cfg.get('optimizer')
            if not isinstance(inner, dict):
                raise TypeError(
                    'With GCOptimWrapperConstructor, Lookahead needs its '
                    "inner optimizer as a config: optimizer=dict(type=...).")
            inner = copy.copy(inner)
            optimizer_cfg['optimizer'] = inner
            return self._gc_target(inner, self._resolve(inner['type']))
        return optimizer_cfg, optimizer_cls

    def _assign_gc_options(self, params: List[dict],
                           owners: Dict[int, Tuple[str, nn.Module]]
                           ) -> Dict[str, str]:
        """Write the type rules and paramwise defaults into the groups that
        custom_keys left alone; return why parameters were switched off."""
        include = self.gc_cfg['gc_module_types']
        exclude = self.gc_cfg['gc_exclude_module_types']
        _check_types_exist(owners, include, 'gc_module_types')
        _check_types_exist(owners, exclude, 'gc_exclude_module_types')
        reasons = {}
        for group in params:
            name, module = owners[id(group['params'][0])]
            if 'use_gc' in group:
                if not group['use_gc']:
                    reasons[name] = 'use_gc=False by custom_keys'
            elif any(_is_type(module, t) for t in exclude):
                group['use_gc'] = False
                reasons[name] = (f'{type(module).__name__} in '
                                 'gc_exclude_module_types')
            elif include and not any(_is_type(module, t) for t in include):
                group['use_gc'] = False
                reasons[name] = (f'{type(module).__name__} not in '
                                 'gc_module_types')
            elif 'use_gc' in self.gc_cfg:
                group['use_gc'] = self.gc_cfg['use_gc']
            for key in ('gc_conv_only', 'gc_loc'):
                if key in self.gc_cfg:
                    group.setdefault(key, self.gc_cfg[key])
        return reasons

    def _check_self_applying(self, target_cls: type,
                             params: List[dict]) -> None:
        # mmgc's GC* classes check their options themselves (a misspelt or
        # missing one raises when the groups are added); a class with a
        # fixed GC rule (SGD_GC, ...) has no options to set.
        if hasattr(target_cls, 'gc_options'):
            return
        used = sorted({key for group in params for key in group
                       if key in GC_OPTION_NAMES})
        if used:
            raise ValueError(
                f'{target_cls.__name__} applies GC by the fixed rule of its '
                f"name and has no per-layer option {', '.join(used)}. For GC "
                'chosen per layer use GCSGD, GCAdam, GCAdamW, GCRAdam or '
                "Ranger, or a GC-unaware optimizer such as 'SGD' (the "
                'constructor then adds GC to it).')

    def _check_group_keys(self, optimizer: Optimizer) -> None:
        known = set(optimizer.defaults) | set(GC_OPTION_NAMES) | set(
            _CUSTOM_KEY_EXTRAS) | {'params', 'param_names'}
        for group in optimizer.param_groups:
            for key in group:
                if key in known:
                    continue
                close = difflib.get_close_matches(key, sorted(known), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ''
                raise ValueError(
                    f"paramwise_cfg.custom_keys set '{key}'{hint}, which "
                    f'{type(optimizer).__name__} does not read; mmengine '
                    'would copy it into the param group and it would have no '
                    'effect. Keys it reads: '
                    f"{', '.join(sorted(optimizer.defaults))}.")


def _parameter_owners(model: nn.Module) -> Dict[int, Tuple[str, nn.Module]]:
    owners = {}
    for module_name, module in model.named_modules():
        for param_name, param in module.named_parameters(recurse=False):
            full_name = (f'{module_name}.{param_name}'
                         if module_name else param_name)
            owners.setdefault(id(param), (full_name, module))
    return owners


def _is_type(module: nn.Module, spec) -> bool:
    if isinstance(spec, type):
        return isinstance(module, spec)
    return any(cls.__name__ == spec for cls in type(module).__mro__)


def _check_types_exist(owners, specs, key: str) -> None:
    modules = [module for _, module in owners.values()]
    for spec in specs:
        if not any(_is_type(m, spec) for m in modules):
            present = sorted({type(m).__name__ for m in modules})
            raise ValueError(
                f'paramwise_cfg.{key} names {spec!r}, but no module with '
                f"parameters in the model is of that type. Types present: "
                f"{', '.join(present)}.")


def _kind(module: nn.Module) -> str:
    if isinstance(module, nn.modules.conv._ConvNd):
        return 'conv'
    if isinstance(module, nn.Linear):
        return 'linear'
    return 'other'


def _names(names: List[str]) -> str:
    shown = ', '.join(names[:_NAMES_SHOWN])
    more = len(names) - _NAMES_SHOWN
    return shown + (f' (+{more} more)' if more > 0 else '')


def _summary(model: nn.Module, optimizer: Optimizer,
             owners: Dict[int, Tuple[str, nn.Module]],
             reasons: Dict[str, str]) -> Tuple[str, int]:
    """One line: which tensors get GC (conv/linear/other) and, grouped by
    reason, which do not."""
    kinds = {'conv': 0, 'linear': 0, 'other': 0}
    excluded: Dict[str, List[str]] = {}
    in_optimizer = set()
    for group in optimizer.param_groups:
        rule = gc_rule_of(optimizer, group)
        for p in group['params']:
            in_optimizer.add(id(p))
            name, module = owners.get(id(p), ('<not in model>', None))
            # The shapes GC sees: the original ones behind FSDP1's pieces.
            for shape in gc_shapes(p):
                if rule is not None and gc_applies_to_shape(shape, rule):
                    kind = _kind(module) if module is not None else 'other'
                    kinds[kind] += 1
                    continue
                if len(shape) <= 1:
                    why = 'one-dimensional (bias, norm)'
                elif rule is None:
                    why = reasons.get(name, 'use_gc=False')
                else:
                    why = f'{len(shape)}-D with gc_conv_only=True'
                excluded.setdefault(why, []).append(name)
    for name, param in model.named_parameters():
        if id(param) not in in_optimizer:
            excluded.setdefault('frozen (not optimized)', []).append(name)
    total = sum(kinds.values())
    line = (f'GC: {total} of {total + sum(map(len, excluded.values()))} '
            f'parameter tensors are centralized by {type(optimizer).__name__} '
            f"({kinds['conv']} conv, {kinds['linear']} linear, "
            f"{kinds['other']} other).")
    if excluded:
        parts = []
        for why, names in excluded.items():
            if why.startswith('one-dimensional'):
                parts.append(f'{len(names)} {why}')
            else:
                parts.append(f'{len(names)} {why}: {_names(names)}')
        line += ' Not centralized: ' + '; '.join(parts) + '.'
    if total == 0:
        line += (' GC was asked for and changes nothing: the optimizer runs '
                 'as the plain one.')
    return line, total


def _refuse_deepspeed(wrapper_type) -> None:
    name = wrapper_type if isinstance(wrapper_type, str) else getattr(
        wrapper_type, '__name__', '')
    if name == 'DeepSpeedOptimWrapper':
        raise ValueError(
            'GCOptimWrapperConstructor cannot apply GC under DeepSpeed '
            '(optim_wrapper type DeepSpeedOptimWrapper): DeepSpeed ZeRO '
            'replaces the parameters with flat partitions of several weights '
            'after the optimizer is built and steps on those, so the output '
            'slices GC needs are gone and GC would silently be off. Train '
            "with FSDP (runner_type='FlexibleRunner', "
            "strategy=dict(type='GCFSDPStrategy')) or DDP instead.")
