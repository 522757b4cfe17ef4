"""Helpers of the multi-tensor (foreach) kernels: when to take that path, and
how to batch tensors for it."""
from typing import Dict, Hashable, List, Optional, Sequence

from torch import Tensor

from mmgc import torch_compat

__all__ = ['default_to_foreach', 'group_by_device_and_dtype', 'pick']


def default_to_foreach(params: List[Tensor],
                       grads: List[Optional[Tensor]]) -> bool:
    """``foreach=None`` resolves exactly as in torch.optim: the multi-tensor
    path on devices with native foreach kernels (CUDA and the like), the
    single-tensor path elsewhere (CPU)."""
    return torch_compat.default_to_foreach(list(params) + list(grads))


def group_by_device_and_dtype(
        tensors: Sequence[Tensor],
        extra_keys: Optional[Sequence[Hashable]] = None
) -> Dict[tuple, List[int]]:
    """Indices of ``tensors`` grouped by device and dtype (and by
    ``extra_keys[i]`` when given), in first-seen order.

    A foreach launch takes one device and one dtype: a mixed list would fall
    back to one kernel per tensor on CUDA. Grouping first keeps every launch
    a real multi-tensor one.
    """
    groups: Dict[tuple, List[int]] = {}
    for i, t in enumerate(tensors):
        key = (t.device, t.dtype)
        if extra_keys is not None:
            key += (extra_keys[i], )
        groups.setdefault(key, []).append(i)
    return groups


def pick(tensors: Sequence, indices: Sequence[int]) -> list:
    """``[tensors[i] for i in indices]``."""
    return [tensors[i] for i in indices]
