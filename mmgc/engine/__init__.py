"""What plugs into mmengine: the GC optim-wrapper constructor (per-layer GC,
GC for any optimizer), the GC and gradient statistics hooks, the FSDP strategy with exact
GC, and the DDP wrapper for CPU-only distributed runs."""
from .cpu_distributed import CPUDistributedDataParallel
from .hooks import GCStatsHook, GradientStatsHook
from .optim_wrapper_constructor import GCOptimWrapperConstructor

__all__ = [
    'GCOptimWrapperConstructor', 'GCStatsHook', 'GradientStatsHook',
    'CPUDistributedDataParallel'
]
