"""Gradient Centralization when a sharding engine cuts the parameters.

GC needs every output slice of a weight (one conv filter, one fc row). What
an optimizer receives under sharded data parallelism:

* torch FSDP2 (``fully_shard``): DTensors with their global shape, sharded on
  dim 0 (or on another dim with ``shard_placement_fn``). The GC kernels work
  on them unchanged: DTensor computes a slice mean locally where every slice
  sits on one rank and inserts the all-reduce where a slice is split. Nothing
  to do here.
* torch FSDP1 (``FullyShardedDataParallel``, what mmengine's FSDPStrategy
  builds): 1-D pieces of a flat buffer that concatenates many weights and is
  cut into equal parts with no regard for slices (``use_orig_params=True``:
  one piece per weight, possibly empty; ``False``: one piece per flat buffer).
  The kernels would centralize nothing. This module makes GC exact for them:

  - the shapes and offsets come from the FSDP module (private torch API, read
    only in :func:`mmgc.torch_compat.fsdp1_flat_params`) as one
    :class:`FlatLayout` per optimizer tensor (:func:`register_fsdp_model`);
  - every step, each rank adds up its pieces of every slice, one small
    all-reduce of those per-slice sums (one number per slice) gives the slice
    means of the whole weight, and each rank subtracts them from its pieces
    (:mod:`mmgc.optim.gc_ops`). That is exactly GC of the unsharded tensor;
  - GC on the gradient (SGD family, ``gc_loc=True``, wrapped optimizers):
    before the step each piece's gradient ``g`` is replaced by
    ``g - mean(g + s * wd * w)``, so the kernel's own ``s * g + wd * w``
    (``s = -1`` with ``maximize``, ``wd`` the L2 decay it folds in) comes out
    centralized; the original ``.grad`` is put back after the step;
  - GC on the update (``Adam_GC2``, ``gc_loc=False``): the kernel takes the
    plain update ``u`` on the pieces, and after the step the per-slice mean
    of ``u = w_before - w_after`` is added back, giving ``w - GC(u)``. The
    moments never see GC there, so this is the same step.

  Both are hooks on the optimizer (``register_step_pre_hook`` /
  ``register_step_post_hook``), installed when the optimizer is built
  (:func:`mmgc.optim.gc_coverage.check_gc_at_build`), so AMP unscaling and
  gradient clipping come first as without sharding.

DeepSpeed ZeRO (stages 1-3) hands the optimizer flat fp32 partitions of the
same kind after it is built; :mod:`mmgc.engine.deepspeed` registers their
layouts, the same :class:`FlatLayout` records (:func:`register_layout`), and
:func:`mmgc.optim.gc_coverage.check_gc_after_sharding` installs the same
hooks.

Where each optimizer applies GC comes from its answer to the placement
protocol (:mod:`mmgc.optim.placement`); which tensors are centralized, and
the checks at build time, from :mod:`mmgc.optim.gc_coverage`.
"""
from dataclasses import dataclass
from typing import (Dict, Iterable, List, NamedTuple, Optional, Sequence,
                    Tuple)

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.weak import WeakIdKeyDictionary

from mmgc.torch_compat import fsdp1_flat_params

from .gc_ops import (add_slice_sums, gc_applies_to_shape,
                     subtract_slice_means_)
from .placement import GCPlacement, gc_placement_of

__all__ = [
    'FlatPiece', 'FlatLayout', 'register_fsdp_model', 'register_layout',
    'register_flat_layout', 'original_tensors', 'has_layout',
    'install_sharded_gc', 'FSDP_HOW_TO'
]


FSDP_HOW_TO = (
    "In a config, use strategy=dict(type='GCFSDPStrategy', ...) (mmgc's "
    'subclass of mmengine\'s FSDPStrategy) or '
    "optim_wrapper=dict(constructor='GCOptimWrapperConstructor', ...); in "
    'Python, call mmgc.optim.sharded_gc.register_fsdp_model(fsdp_model) '
    'before building the optimizer. FSDP2 (torch fully_shard) needs nothing.')


# --------------------------------------------------------------------------
# Layouts: where the output slices of each optimizer parameter lie
# --------------------------------------------------------------------------
class FlatPiece(NamedTuple):
    """``tensor[offset:offset + numel]`` of an optimizer tensor is the
    elements ``start .. start + numel - 1`` of the row-major flattening of
    the weight ``FlatLayout.shapes[index]``."""
    index: int
    offset: int
    numel: int
    start: int

    @property
    def span(self) -> slice:
        """Where the piece lies in the optimizer tensor."""
        return slice(self.offset, self.offset + self.numel)


@dataclass(frozen=True)
class FlatLayout:
    """An optimizer tensor made of pieces of flattened original weights, as
    FSDP1 (:func:`mmgc.torch_compat.fsdp1_flat_params`) and DeepSpeed ZeRO
    (:func:`mmgc.engine.deepspeed.zero_partitions`) cut them.

    ``names``/``shapes`` are every weight that has pieces on some rank of
    ``process_group``, the same on each rank (the all-reduce of slice sums
    is laid out by them); ``pieces`` are this rank's only. The tensor itself
    is not kept: the layouts are looked up by it, weakly.
    """
    names: Tuple[str, ...]
    shapes: Tuple[torch.Size, ...]
    pieces: Tuple[FlatPiece, ...]
    # The ranks whose pieces make up the whole weights; None when this rank
    # holds every weight whole (FSDP's NO_SHARD).
    process_group: Optional[object]
    # Where the group's collectives take tensors, when the optimizer tensor
    # lives elsewhere (a CPU partition under NCCL); None: where it lives.
    comm_device: Optional[torch.device] = None


_LAYOUTS = WeakIdKeyDictionary()


def register_layout(tensor: Tensor, layout: FlatLayout) -> None:
    """Record that the optimizer tensor ``tensor`` is laid out as
    ``layout``, so that GC on it is exact (the step hooks of
    ``install_sharded_gc``)."""
    _LAYOUTS[tensor] = layout


def register_flat_layout(tensor: Tensor,
                         names: Sequence[str],
                         shapes: Sequence[Sequence[int]],
                         pieces: Iterable[Tuple[int, int, int, int]],
                         group: Optional[object],
                         comm_device: Optional[torch.device] = None) -> None:
    """Record that the optimizer tensor ``tensor`` holds pieces of the
    row-major flattening of the weights ``names``/``shapes``, so that GC on
    it is exact (the step hooks of ``install_sharded_gc``).

    Args:
        tensor: The tensor the optimizer steps on.
        names, shapes: Every weight that has pieces on some rank of
            ``group``, the same on each rank (the all-reduce of slice sums
            is laid out by them), also those of which this rank holds
            nothing.
        pieces: This rank's pieces as ``(index, offset, numel, start)``:
            ``tensor[offset:offset + numel]`` is the elements ``start ..
            start + numel - 1`` of the flattened weight ``shapes[index]``.
        group: The process group whose pieces make up the whole weights;
            None when this rank holds them whole.
        comm_device: Where ``group``'s collectives take tensors when
            ``tensor`` lives elsewhere (a CPU partition under NCCL).
    """
    register_layout(
        tensor,
        FlatLayout(tuple(names), tuple(torch.Size(s) for s in shapes),
                   tuple(FlatPiece(*piece) for piece in pieces), group,
                   comm_device))


def register_fsdp_model(model: nn.Module) -> int:
    """Record the original shapes behind the flat parameters of every FSDP1
    unit in ``model`` so that GC on them is exact for optimizers built
    afterwards. Returns the number of optimizer-visible tensors recorded.

    FSDP1's private metadata is read by
    ``mmgc.torch_compat.fsdp1_flat_params``.
    """
    flat_params = fsdp1_flat_params(model)
    for flat in flat_params:
        register_flat_layout(*flat)
    return len(flat_params)


def has_layout(param: Tensor) -> bool:
    """Whether ``param`` is a flat tensor (FSDP1, ZeRO) whose layout was
    recorded."""
    return param in _LAYOUTS


def original_tensors(param: Tensor) -> List[Tuple[Optional[str], torch.Size]]:
    """The weights GC sees behind an optimizer tensor, as (name, shape): the
    original weights of a registered flat tensor (names known), else the
    tensor itself (name unknown here; global shape for a DTensor)."""
    layout = _LAYOUTS.get(param)
    if layout is None:
        return [(None, param.shape)]
    return list(zip(layout.names, layout.shapes))


# --------------------------------------------------------------------------
# The step hooks for FSDP1 pieces
# --------------------------------------------------------------------------
@dataclass
class _Entry:
    """One piece of one centralized weight."""
    param: Tensor
    piece: FlatPiece
    placement: GCPlacement
    key: int  # id of the process group
    rows: int
    row_size: int
    slot: int  # the weight's first row in its process group's buffer


@dataclass
class _Buffer:
    group: Optional[object]
    size: int
    device: torch.device
    dtype: torch.dtype
    comm_device: Optional[torch.device] = None


class _ShardedGC:
    """Pre/post step hooks that centralize FSDP1 pieces exactly."""

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self._grads: List[Tuple[Tensor, Tensor]] = []
        self._before: Dict[int, Tensor] = {}

    def _plan(self, on_update: bool):
        """The pieces to centralize at this location and the buffers of
        slice sums. Slots and buffers depend only on the param groups and the
        original weights, not on the pieces this rank holds, so every rank
        takes part in the same all-reduces."""
        entries: List[_Entry] = []
        buffers: Dict[int, _Buffer] = {}
        for group in self.optimizer.param_groups:
            placement = gc_placement_of(self.optimizer, group)
            if placement is None or placement.on_update != on_update:
                continue
            for p in group['params']:
                layout = _LAYOUTS.get(p)
                if layout is None:
                    continue
                key = id(layout.process_group)
                buf = buffers.setdefault(
                    key,
                    _Buffer(layout.process_group, 0, p.device, torch.float32,
                            layout.comm_device))
                if p.dtype == torch.float64:
                    buf.dtype = torch.float64
                for i, shape in enumerate(layout.shapes):
                    if not gc_applies_to_shape(shape, placement.conv_only):
                        continue
                    rows = shape[0]
                    row_size = shape.numel() // rows if rows else 0
                    for piece in layout.pieces:
                        if piece.index == i and piece.numel > 0:
                            entries.append(
                                _Entry(p, piece, placement, key, rows,
                                       row_size, buf.size))
                    buf.size += rows
        return entries, buffers

    @staticmethod
    def _slice_means(entries, buffers, piece_of) -> Dict[int, Tensor]:
        """Per process group, the slice sums of every weight added up over
        the ranks, divided by the slice size: the slice means of the whole
        weights. ``piece_of(entry)`` is this rank's piece (None: skip)."""
        sums = {
            key: torch.zeros(b.size, dtype=b.dtype, device=b.device)
            for key, b in buffers.items()
        }
        for e in entries:
            piece = piece_of(e)
            if piece is not None:
                add_slice_sums(piece, e.piece.start, e.row_size,
                               sums[e.key][e.slot:e.slot + e.rows])
        for key, b in buffers.items():
            if b.group is not None and b.size:
                if b.comm_device is None or b.comm_device == b.device:
                    dist.all_reduce(sums[key], group=b.group)
                else:
                    moved = sums[key].to(b.comm_device)
                    dist.all_reduce(moved, group=b.group)
                    sums[key] = moved.to(b.device)
        return sums

    @staticmethod
    def _means_of(sums, e: _Entry) -> Tensor:
        return sums[e.key][e.slot:e.slot + e.rows] / e.row_size

    @staticmethod
    def _direction(e: _Entry) -> Optional[Tensor]:
        """This piece of ``g + s * wd * w`` (``s * `` the direction the
        kernel centralizes): its slice means are what GC removes."""
        grad = e.param.grad
        if grad is None:
            return None
        piece = grad[e.piece.span]
        if e.placement.l2:
            piece = piece.add(e.param[e.piece.span],
                              alpha=e.placement.sign * e.placement.l2)
        return piece

    @torch.no_grad()
    def pre_step(self, optimizer, args, kwargs):
        entries, buffers = self._plan(on_update=False)
        if buffers:
            sums = self._slice_means(entries, buffers, self._direction)
            replaced: Dict[int, Tensor] = {}
            for e in entries:
                if e.param.grad is None:
                    continue
                grad = replaced.get(id(e.param))
                if grad is None:
                    grad = e.param.grad.clone()
                    replaced[id(e.param)] = grad
                    self._grads.append((e.param, e.param.grad))
                # g - mean(g + s*wd*w): the kernel's s*g' + wd*w is then
                # s*g + wd*w minus its slice means.
                subtract_slice_means_(grad[e.piece.span], e.piece.start,
                                      e.row_size, self._means_of(sums, e))
            for p, _ in self._grads:
                p.grad = replaced[id(p)]
        self._before = {}
        for e in self._plan(on_update=True)[0]:
            if e.param.grad is not None and id(e.param) not in self._before:
                self._before[id(e.param)] = e.param.detach().clone()

    @torch.no_grad()
    def post_step(self, optimizer, args, kwargs):
        # The centralized gradients were only lent to the step.
        for p, grad in self._grads:
            p.grad = grad
        self._grads = []
        entries, buffers = self._plan(on_update=True)
        if not buffers:
            return
        before, self._before = self._before, {}

        def update(e):
            old = before.get(id(e.param))
            if old is None:
                return None
            return old[e.piece.span] - e.param[e.piece.span]

        sums = self._slice_means(entries, buffers, update)
        for e in entries:
            if id(e.param) in before:
                # w - u + mean(u) == w - GC(u)
                subtract_slice_means_(e.param[e.piece.span], e.piece.start,
                                      e.row_size, -self._means_of(sums, e))


def install_sharded_gc(optimizer) -> None:
    """Put the step hooks that centralize FSDP1 pieces exactly on
    ``optimizer`` (the one whose ``step()`` applies GC)."""
    hooks = _ShardedGC(optimizer)
    optimizer.register_step_pre_hook(hooks.pre_step)
    optimizer.register_step_post_hook(hooks.post_step)
