"""Choosing the GC layers from a config.

:class:`GCOptimWrapperConstructor` is mmengine's default constructor plus:

* GC options in ``paramwise_cfg`` (defaults for every parameter, and rules by
  module type), and ``use_gc`` / ``gc_conv_only`` / ``gc_loc`` in
  ``custom_keys`` (by parameter name, they win over everything else);
* GC for optimizers that know nothing of it (torch's AdamW, mmpretrain's
  LAMB, ...): the optimizer is built from a cached subclass of its class,
  :func:`mmgc.optim.gc_wrapped`, whose ``step()`` centralizes the gradients
  of the GC-enabled groups and then runs the original step;
* one log line saying which tensors get GC and why the others do not;
* clear errors for misspelt GC keys (mmengine would copy them into the param
  group, where the optimizer ignores them) and for ``fused=True``.
"""
import copy
import difflib
import inspect
import logging
from typing import Dict, List, Optional, Tuple

from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmengine.registry import (OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS,
                               OPTIMIZERS)
from torch import nn
from torch.optim import Optimizer

from mmgc.config_keys import GC_PARAMWISE_OPTIONS
from mmgc.optim._validation import (GC_OPTION_NAMES, GC_OPTION_RULES,
                                    check_value, reject_unknown_kwargs)
from mmgc.optim.gc_coverage import (SKIP_GC_OFF, SKIP_ONE_D,
                                    check_gc_at_build, gc_coverage)
from mmgc.optim.gc_wrapped import FUSED_REASON, gc_wrapped
from mmgc.optim.lookahead import Lookahead
from mmgc.optim.placement import applies_gc_itself
from mmgc.optim.sharded_gc import register_fsdp_model

__all__ = ['GCOptimWrapperConstructor', 'check_gc_options_have_a_reader']

# --------------------------------------------------------------------------
# The constructor
# --------------------------------------------------------------------------
_MMENGINE_PARAMWISE_KEYS = ('custom_keys', 'bias_lr_mult', 'bias_decay_mult',
                            'norm_decay_mult', 'dwconv_decay_mult',
                            'flat_decay_mult', 'dcn_offset_lr_mult',
                            'bypass_duplicate')
#: The GC keys of ``paramwise_cfg`` (mmengine's keys aside).
GC_PARAMWISE_KEYS = GC_PARAMWISE_OPTIONS
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
             if k not in _MMENGINE_PARAMWISE_KEYS + GC_PARAMWISE_KEYS},
            _MMENGINE_PARAMWISE_KEYS + GC_PARAMWISE_KEYS)
        self.gc_cfg = {
            key: paramwise_cfg.pop(key)
            for key in GC_PARAMWISE_KEYS if key in paramwise_cfg
        }
        # The optimizers' own description of their GC options.
        for key, rule in GC_OPTION_RULES.items():
            if key in self.gc_cfg:
                check_value('paramwise_cfg', key, self.gc_cfg[key], rule)
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
                    check_value(f"paramwise_cfg.custom_keys['{pattern}']",
                                key, value, GC_OPTION_RULES[key])
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
        optimizer_cfg = copy.copy(self.optimizer_cfg)
        optimizer_cls = self._resolve(optimizer_cfg['type'])
        target_cfg, target_cls = self._gc_target(optimizer_cfg, optimizer_cls)
        _refuse_deepspeed(target_cls)

        params: List[dict] = []
        self.add_params(params, model)
        _check_custom_keys_match(self.paramwise_cfg.get('custom_keys', {}),
                                 model)
        owners = _parameter_owners(model)
        reasons = self._assign_gc_options(params, owners)

        if applies_gc_itself(target_cls):
            self._check_self_applying(target_cls, params)
        else:
            if target_cfg.get('fused'):
                raise ValueError(
                    f'{target_cls.__name__}(fused=True) with GC: '
                    f'{FUSED_REASON}.')
            target_cfg['type'] = gc_wrapped(target_cls)

        optimizer_cfg[_params_argument(optimizer_cls)] = params
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        # mmgc's optimizers checked themselves; one from elsewhere that
        # answers the placement protocol is checked (and sharded) here.
        check_gc_at_build(optimizer)
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
        # A class that reads GC options per group checks them itself (mmgc's
        # GC* classes raise on a misspelt or missing one); one with a fixed
        # rule (SGD_GC, ...) has none to set.
        if getattr(target_cls, 'gc_options', ()):
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


def _constructor_reads_gc(constructor) -> bool:
    """Whether the optim-wrapper constructor a config names (mmengine's
    default when it names none) is GCOptimWrapperConstructor or a
    subclass."""
    if constructor is None:
        return False
    if isinstance(constructor, str):
        with OPTIM_WRAPPER_CONSTRUCTORS.switch_scope_and_registry(
                None) as registry:
            constructor = registry.get(constructor)
    return isinstance(constructor, type) and issubclass(
        constructor, GCOptimWrapperConstructor)


def check_gc_options_have_a_reader(optim_wrapper_cfg: dict) -> None:
    """Refuse GC options in ``paramwise_cfg`` that nothing would read.

    mmengine's default constructor (and mmdet's and mmpretrain's) ignores
    ``paramwise_cfg`` keys it does not know, so ``use_gc=True`` there trains
    a torch ``SGD`` without GC and without a word. In ``custom_keys`` the
    options reach the param groups, where only an optimizer that applies GC
    itself and lets the group choose them (GCSGD, GCAdam, ...; not the
    paper's fixed-rule classes) reads them.
    """
    if not isinstance(optim_wrapper_cfg, dict):
        return
    constructor = optim_wrapper_cfg.get('constructor')
    if _constructor_reads_gc(constructor):
        return
    paramwise_cfg = optim_wrapper_cfg.get('paramwise_cfg') or {}
    unread = [f'paramwise_cfg.{key}' for key in GC_PARAMWISE_KEYS
              if key in paramwise_cfg]
    optimizer_type = (optim_wrapper_cfg.get('optimizer') or {}).get('type')
    optimizer_cls = None
    if optimizer_type is not None:
        try:
            optimizer_cls = GCOptimWrapperConstructor._resolve(optimizer_type)
        except KeyError:
            pass  # tools/train.py names an unknown optimizer on its own
    reads = getattr(optimizer_cls, 'gc_options', ()) if applies_gc_itself(
        optimizer_cls) else ()
    for pattern, options in (paramwise_cfg.get('custom_keys') or {}).items():
        unread += [f"paramwise_cfg.custom_keys['{pattern}'].{key}"
                   for key in GC_OPTION_NAMES
                   if isinstance(options, dict) and key in options
                   and key not in reads]
    if not unread:
        return
    name = constructor if isinstance(constructor, str) else getattr(
        constructor, '__name__', 'DefaultOptimWrapperConstructor')
    raise ValueError(
        f'optim_wrapper sets {", ".join(unread)}, but its constructor '
        f'({name}) does not read GC options, so the optimizer '
        f'({optimizer_type}) would train without the GC they ask for. Add '
        "constructor='GCOptimWrapperConstructor' to optim_wrapper (it reads "
        'them and adds GC to any optimizer); with one of mmgc\'s GC '
        'optimizers, the options it takes can go in optim_wrapper.optimizer '
        'instead.')


def _params_argument(optimizer_cls) -> str:
    """The name of the argument that takes the parameters: the first one
    (``params`` for torch's optimizers, whatever a third-party class calls
    it); ``params`` where it is ``*args`` (``GCWrapped<...>`` classes)."""
    first = next(iter(inspect.signature(optimizer_cls).parameters.values()))
    return 'params' if first.kind is first.VAR_POSITIONAL else first.name


def _check_custom_keys_match(custom_keys: dict, model: nn.Module) -> None:
    # mmengine matches a key as a substring of the full parameter name and
    # ignores one that matches nothing: a typo would silently change nothing.
    names = [name for name, _ in model.named_parameters()]
    for key in custom_keys:
        if any(key in name for name in names):
            continue
        # A key usually names a module ('head.fc') or a parameter.
        candidates = sorted({name.rsplit('.', 1)[0] for name in names}
                            | set(names))
        close = difflib.get_close_matches(key, candidates, n=3)
        hint = (f" Did you mean {' or '.join(map(repr, close))}?"
                if close else '')
        raise ValueError(
            f"paramwise_cfg.custom_keys['{key}'] matches no parameter of "
            f'{type(model).__name__} (a key applies to every parameter '
            f'whose full name contains it).{hint}')


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
    reason, which do not (from :func:`mmgc.optim.gc_coverage`)."""
    kinds = {'conv': 0, 'linear': 0, 'other': 0}
    excluded: Dict[str, List[str]] = {}
    in_optimizer = set()
    for tensor in gc_coverage(optimizer):
        in_optimizer.add(id(tensor.param))
        if not tensor.param.requires_grad:
            # mmengine < 0.10.4 keeps frozen parameters in the groups;
            # counted with the others left out below.
            continue
        name, module = owners.get(id(tensor.param),
                                  (tensor.name or '<not in model>', None))
        if tensor.skipped is None:
            kinds[_kind(module) if module is not None else 'other'] += 1
            continue
        why = tensor.skipped
        if why == SKIP_GC_OFF:
            why = reasons.get(name, 'use_gc=False')
        excluded.setdefault(why, []).append(name)
    for name, param in model.named_parameters():
        if id(param) not in in_optimizer or not param.requires_grad:
            excluded.setdefault('frozen (not optimized)', []).append(name)
    total = sum(kinds.values())
    line = (f'GC: {total} of {total + sum(map(len, excluded.values()))} '
            f'parameter tensors are centralized by {type(optimizer).__name__} '
            f"({kinds['conv']} conv, {kinds['linear']} linear, "
            f"{kinds['other']} other).")
    if excluded:
        parts = []
        for why, names in excluded.items():
            # Biases and norms are many and expected: counted, not named.
            if why == SKIP_ONE_D:
                parts.append(f'{len(names)} {why}')
            else:
                parts.append(f'{len(names)} {why}: {_names(names)}')
        line += ' Not centralized: ' + '; '.join(parts) + '.'
    if total == 0:
        line += (' GC was asked for and changes nothing: the optimizer runs '
                 'as the plain one.')
    return line, total


def _refuse_deepspeed(optimizer_cls) -> None:
    """Refuse DeepSpeed's own optimizers (FusedAdam, DeepSpeedCPUAdam, ...):
    they update the weights in their own kernels, and DeepSpeed recognizes
    them by type, so no GC step around them can be exact. DeepSpeed ZeRO with
    any other optimizer is exact through GCDeepSpeedStrategy."""
    module = getattr(optimizer_cls, '__module__', '') or ''
    if module.startswith('deepspeed.'):
        raise ValueError(
            f'GCOptimWrapperConstructor cannot apply GC to '
            f"{optimizer_cls.__name__}, one of DeepSpeed's own optimizers: "
            'it updates the weights in its own kernels, which never run '
            "mmgc's GC. Use an mmgc optimizer (SGD_GC, GCAdamW, ...) or a "
            "torch one (type='AdamW'); with DeepSpeed ZeRO, train with "
            "strategy=dict(type='GCDeepSpeedStrategy', ...).")
