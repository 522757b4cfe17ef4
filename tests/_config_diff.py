"""Resolved configs as flat {dotted.key: value} maps, so that a baseline and
its GC twin can be compared key by key (detection and classification
config tests)."""


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
