"""Resolved configs as flat {dotted.key: value} maps, so that a baseline and
its GC twin can be compared key by key (detection and classification
config tests). The flattening is tools/compare.py's own."""
from mmgc.comparison.configs import flatten

__all__ = ['flatten']
