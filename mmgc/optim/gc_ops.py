"""The Gradient Centralization operator: the only place it is implemented.

GC subtracts from every output slice ``G[i]`` of a weight gradient its mean
over all other dimensions (paper, Eq. 1). Which tensors are centralized is
decided by ``ndim`` alone:

* GC  (``conv_only=False``): every tensor with ``ndim > 1`` (conv, fc,
  Conv1d, Embedding weights);
* GCC (``conv_only=True``): only tensors with ``ndim > 3`` (Conv2d/3d).

1-D tensors (biases, norm weights) are never centralized, nor are tensors
whose output slices hold one element each (``Linear(1, n)``, a 1x1 conv on
one input channel): GC would remove their whole gradient.

A tensor split into contiguous pieces of its row-major flattening (FSDP's
flat shards) is centralized piece by piece: :func:`add_slice_sums` gives each
piece's partial sum of every output slice, the caller adds those up over the
pieces (an all-reduce across ranks), and :func:`subtract_slice_means_`
removes the slice means from each piece. The result is :func:`centralize` of
the whole tensor, cut into the same pieces.
"""
import math
from typing import List, Optional, Sequence

import torch
from torch import Tensor

__all__ = [
    'gc_applies', 'gc_applies_to_shape', 'centralize', 'centralize_',
    'foreach_centralize', 'foreach_centralize_', 'check_not_sparse',
    'add_slice_sums', 'subtract_slice_means_'
]


def gc_applies_to_shape(shape: Sequence[int], conv_only: bool) -> bool:
    """Whether GC centralizes a tensor of this shape under the given rule
    (``conv_only``: GCC). Also for a tensor known only by its shape (the
    original shape of a parameter that a sharding engine flattened)."""
    if len(shape) <= (3 if conv_only else 1):
        return False
    # A one-element output slice is its own mean: GC would zero the whole
    # gradient and the weight would never train (the authors' code does).
    return math.prod(shape[1:]) != 1


def gc_applies(tensor: Tensor, conv_only: bool) -> bool:
    """Whether GC centralizes this tensor under the given rule."""
    return gc_applies_to_shape(tensor.shape, conv_only)


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
    """In-place :func:`foreach_centralize`; only for tensors the caller
    owns."""
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


# --------------------------------------------------------------------------
# GC of a tensor held as contiguous pieces of its flattening
# --------------------------------------------------------------------------
def _piece_parts(start: int, numel: int, row_size: int):
    """Split the elements ``start .. start + numel - 1`` of a row-major
    flattened tensor with rows of ``row_size`` elements into (at most) a
    partial first row, whole rows and a partial last row.

    Yields ``(lo, hi, first_row, rows)``: ``piece[lo:hi]`` lies in the rows
    ``first_row .. first_row + rows - 1``; ``rows == 0`` marks a partial row
    (all of ``piece[lo:hi]`` in ``first_row``).
    """
    lo, row = 0, start // row_size
    head = min(numel, (-start) % row_size)
    if head:
        yield 0, head, row, 0
        lo, row = head, row + 1
    whole = (numel - lo) // row_size
    if whole:
        yield lo, lo + whole * row_size, row, whole
        lo, row = lo + whole * row_size, row + whole
    if lo < numel:
        yield lo, numel, row, 0


def add_slice_sums(piece: Tensor, start: int, row_size: int,
                   sums: Tensor) -> None:
    """Add to ``sums[r]`` the sum of the elements of ``piece`` that belong to
    output slice ``r``.

    ``piece`` is 1-D and holds the elements ``start .. start + len - 1`` of
    the row-major flattening of a tensor whose output slices (rows) have
    ``row_size`` elements each; ``sums`` has one entry per output slice of
    the whole tensor (its dtype is the accumulation dtype).
    """
    for lo, hi, row, rows in _piece_parts(start, piece.numel(), row_size):
        part = piece[lo:hi].to(sums.dtype)
        if rows:
            sums[row:row + rows] += part.view(rows, row_size).sum(dim=1)
        else:
            sums[row] += part.sum()


def subtract_slice_means_(piece: Tensor, start: int, row_size: int,
                          means: Tensor) -> Tensor:
    """In place: subtract from every element of ``piece`` the mean of its
    output slice (``means[r]``, the slice sums of the whole tensor over
    ``row_size``). Layout as in :func:`add_slice_sums`; only for tensors the
    caller owns."""
    means = means.to(piece.dtype)
    for lo, hi, row, rows in _piece_parts(start, piece.numel(), row_size):
        if rows:
            piece[lo:hi].view(rows, row_size).sub_(
                means[row:row + rows].unsqueeze(1))
        else:
            piece[lo:hi].sub_(means[row])
    return piece
