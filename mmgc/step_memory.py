"""The peak temporary memory of an optimizer step, on any device.

tools/benchmark_optimizers.py reports it and tests/test_foreach.py holds
mmgc's kernels to torch's with it. Not imported by ``import mmgc``.
"""
import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from mmgc.torch_compat import tree_leaves


class PeakTemporaryMemory(TorchDispatchMode):
    """Peak bytes of the tensors allocated by the ops run under this mode
    and still alive: the temporaries of an optimizer step.

    A tensor an op returns in the storage of one of its inputs (an in-place
    op, a view) allocates nothing and is not counted. Usage::

        with PeakTemporaryMemory() as tracker:
            optimizer.step()
        tracker.peak  # bytes
    """

    def __init__(self):
        super().__init__()
        self.live = 0
        self.peak = 0

    def _release(self, nbytes: int) -> None:
        self.live -= nbytes

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = {t.untyped_storage().data_ptr()
                  for t in tree_leaves((args, kwargs))
                  if isinstance(t, torch.Tensor)}
        for t in tree_leaves(out):
            if (isinstance(t, torch.Tensor)
                    and t.untyped_storage().data_ptr() not in inputs):
                nbytes = t.untyped_storage().nbytes()
                self.live += nbytes
                weakref.finalize(t, self._release, nbytes)
        self.peak = max(self.peak, self.live)
        return out
