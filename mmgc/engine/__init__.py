"""mmengine integration: the GC optim-wrapper constructor (per-layer GC, GC
for any optimizer) and the GC statistics hook."""
from .hooks import GCStatsHook
from .optim_wrapper_constructor import (GCOptimWrapperConstructor,
                                        applies_gc_itself, gc_rule_of,
                                        gc_wrapped)

__all__ = [
    'GCOptimWrapperConstructor', 'GCStatsHook', 'applies_gc_itself',
    'gc_rule_of', 'gc_wrapped'
]
