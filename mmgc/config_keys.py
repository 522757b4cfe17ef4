"""Configs as flat ``{dotted.key: value}`` maps, and which keys decide GC.

Shared by ``tools/compare.py`` (the twin check, which allows a GC twin to
differ from its baseline only in what decides GC) and ``tools/train.py
--resume`` (which refuses a resume whose config changes what decides GC).
Imports nothing from mmgc, mmengine or torch, so both can use it at no
cost; :mod:`mmgc.optim` and the optim-wrapper constructor take the option
names from here.
"""
import json
from typing import Dict

__all__ = [
    'GC_OPTIMIZER_OPTIONS', 'GC_PARAMWISE_OPTIONS', 'flatten', 'flat_config',
    'is_gc_option', 'gc_settings'
]

#: GC options of an optimizer's param groups (mmgc.optim) and of
#: GCOptimWrapperConstructor's paramwise_cfg: the one definition.
GC_OPTIMIZER_OPTIONS = ('use_gc', 'gc_conv_only', 'gc_loc')
GC_PARAMWISE_OPTIONS = GC_OPTIMIZER_OPTIONS + ('gc_module_types',
                                               'gc_exclude_module_types')


def flatten(value, prefix=''):
    """Config as {dotted.key: leaf}, lists indexed, for exact diffs."""
    if isinstance(value, dict):
        items = {}
        for key, inner in value.items():
            items.update(flatten(inner, f'{prefix}{key}.'))
        return items
    if isinstance(value, (list, tuple)):
        items = {f'{prefix}__len__': len(value)}
        for index, inner in enumerate(value):
            items.update(flatten(inner, f'{prefix}{index}.'))
        return items
    return {prefix.rstrip('.'): value}


def flat_config(cfg) -> Dict[str, object]:
    """A config (mmengine Config or dict) as JSON-able {dotted.key: leaf}:
    what a record stores and what is compared. Leaves JSON cannot hold (a
    class in a new-style config) become their repr."""
    as_dict = cfg.to_dict() if hasattr(cfg, 'to_dict') else dict(cfg)
    return json.loads(json.dumps(flatten(as_dict), default=repr))


def is_gc_option(key: str) -> bool:
    """A key that only switches or places GC (or picks the constructor that
    reads such keys)."""
    parts = key.split('.')
    if parts[:2] == ['optim_wrapper', 'optimizer']:
        # Also inside a wrapper's inner optimizer (Lookahead).
        return parts[-1] in GC_OPTIMIZER_OPTIONS
    if parts[:2] == ['optim_wrapper', 'constructor']:
        return True
    if parts[:2] == ['optim_wrapper', 'paramwise_cfg']:
        if len(parts) > 2 and parts[2] in GC_PARAMWISE_OPTIONS:
            return True
        # custom_keys={'head.fc': dict(use_gc=False)}: the name holds dots.
        return parts[2:3] == ['custom_keys'] and (
            parts[-1] in GC_OPTIMIZER_OPTIONS)
    return False


def gc_settings(cfg) -> Dict[str, object]:
    """What decides a config's GC, as ``{dotted.key: value}``: the
    optimizer's type (and the inner one of a wrapper such as Lookahead) and
    every key :func:`is_gc_option` names."""
    return {
        key: value
        for key, value in flat_config(cfg).items()
        if is_gc_option(key) or (key.startswith('optim_wrapper.optimizer.')
                                 and key.endswith('.type'))
    }
