"""The Gradient Centralization operator: the only place it is implemented.

GC subtracts from every output slice ``G[i]`` of a weight gradient its mean
over all other dimensions (paper, Eq. 1). Which tensors are centralized is
decided by ``ndim`` alone:

* GC  (``conv_only=False``): every tensor with ``ndim > 1`` (conv, fc,
  Conv1d, Embedding weights);
* GCC (``conv_only=True``): only tensors with ``ndim > 3`` (Conv2d/3d).

1-D tensors (biases, norm weights) are never centralized.
"""
from typing import List, Optional, Sequence

import torch
from torch import Tensor

__all__ = [
    'gc_applies', 'centralize', 'centralize_', 'foreach_centralize',
    'foreach_centralize_', 'check_not_sparse'
]


def gc_applies(tensor: Tensor, conv_only: bool) -> bool:
    """Whether GC centralizes a tensor of this shape under the given rule."""
    return tensor.dim() > (3 if conv_only else 1)


def _slice_dims(tensor: Tensor) -> tuple:
    return tuple(range(1, tensor.dim()))


def centralize(tensor: Tensor, conv_only: bool = False) -> Tensor:
    """Return ``tensor`` with each output slice's mean removed.

    Tensors outside the rule are returned unchanged (the same object). The
    mean is one reduction over dims 1..n-1: chained single-dim means differ in
    the last bits.
    """
    if not gc_applies(tensor, conv_only) or tensor.numel() == 0:
        return tensor
    return tensor - tensor.mean(dim=_slice_dims(tensor), keepdim=True)


def centralize_(tensor: Tensor, conv_only: bool = False) -> Tensor:
    """In-place :func:`centralize`; only for tensors the caller owns."""
    if gc_applies(tensor, conv_only) and tensor.numel() > 0:
        tensor.sub_(tensor.mean(dim=_slice_dims(tensor), keepdim=True))
    return tensor


def _group_by_slice_dims(tensors: Sequence[Tensor], conv_only: bool):
    """Indices of the tensors GC applies to, grouped by ndim, then device
    and dtype (one foreach launch needs a single device and dtype)."""
    groups = {}
    for i, t in enumerate(tensors):
        if gc_applies(t, conv_only) and t.numel() > 0:
            groups.setdefault((t.dim(), t.device, t.dtype), []).append(i)
    return groups


def foreach_centralize(tensors: Sequence[Tensor],
                       conv_only: bool = False) -> List[Tensor]:
    """List version of :func:`centralize`: new tensors where GC applies, the
    inputs themselves elsewhere. Bit-identical to calling
    :func:`centralize` on each tensor.
    """
    out = list(tensors)
    for (ndim, _, _), idx in _group_by_slice_dims(tensors, conv_only).items():
        dims = tuple(range(1, ndim))
        members = [tensors[i] for i in idx]
        # The mean is a per-tensor reduction (no foreach kernel exists for
        # it); the subtraction is one multi-tensor launch.
        means = [t.mean(dim=dims, keepdim=True) for t in members]
        for i, centred in zip(idx, torch._foreach_sub(members, means)):
            out[i] = centred
    return out


def foreach_centralize_(tensors: Sequence[Tensor],
                        conv_only: bool = False) -> None:
    """In-place :func:`foreach_centralize`; only for tensors the caller owns."""
    for (ndim, _, _), idx in _group_by_slice_dims(tensors, conv_only).items():
        dims = tuple(range(1, ndim))
        members = [tensors[i] for i in idx]
        means = [t.mean(dim=dims, keepdim=True) for t in members]
        torch._foreach_sub_(members, means)


def check_not_sparse(grad: Tensor, param: Tensor, optimizer_name: str,
                     conv_only: Optional[bool]) -> None:
    """Refuse a sparse gradient on a tensor GC would centralize.

    ``conv_only=None`` means GC is off for this tensor (nothing to check).
    """
    if conv_only is None or not grad.is_sparse:
        return
    if gc_applies(param, conv_only):
        raise RuntimeError(
            f'{optimizer_name} got a sparse gradient for a parameter of shape '
            f'{tuple(param.shape)}, which Gradient Centralization would '
            'centralize; GC needs dense gradients. Use a dense layer (e.g. '
            'nn.Embedding(sparse=False)), or switch GC off for this parameter '
            "(paramwise_cfg custom_keys: dict(use_gc=False)).")
