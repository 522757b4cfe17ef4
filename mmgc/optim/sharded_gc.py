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
    only in :func:`register_fsdp_model`);
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
  ``register_step_post_hook``), installed when the optimizer is built, so
  AMP unscaling and gradient clipping come first as without sharding.
* Anything else that flattens parameters after the optimizer was built
  (DeepSpeed ZeRO) is refused at the first step with an error, because GC
  would silently be off.

An optimizer that was asked for GC and ends up centralizing no tensor warns
when it is built (:class:`GCEmptyWarning`).
"""
import warnings
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.weak import WeakIdKeyDictionary

from mmgc.torch_compat import fsdp1_flat_params, is_fsdp1_flattened

from .gc_group import gc_location
from .gc_ops import (add_slice_sums, gc_applies_to_shape,
                     subtract_slice_means_)

__all__ = [
    'GCEmptyWarning', 'register_fsdp_model', 'check_gc_at_build',
    'gc_shapes', 'FSDP_HOW_TO'
]


class GCEmptyWarning(UserWarning):
    """An optimizer asked for GC centralizes no tensor at all."""


FSDP_HOW_TO = (
    "In a config, use strategy=dict(type='GCFSDPStrategy', ...) (mmgc's "
    'subclass of mmengine\'s FSDPStrategy) or '
    "optim_wrapper=dict(constructor='GCOptimWrapperConstructor', ...); in "
    'Python, call mmgc.optim.sharded_gc.register_fsdp_model(fsdp_model) '
    'before building the optimizer. FSDP2 (torch fully_shard) needs nothing.')


# --------------------------------------------------------------------------
# Layouts: where the output slices of each optimizer parameter lie
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class _Segment:
    original: int  # index into _FlatLayout.shapes
    offset: int  # where the piece starts in the optimizer's tensor
    numel: int
    start: int  # where the piece starts in the flattened original weight


@dataclass(frozen=True)
class _FlatLayout:
    """An optimizer tensor made of pieces of flattened original weights."""
    names: Tuple[str, ...]
    shapes: Tuple[torch.Size, ...]
    segments: Tuple[_Segment, ...]
    # The ranks whose pieces make up the whole weights; None when this rank
    # holds every weight whole (FSDP's NO_SHARD).
    group: Optional[object]


_LAYOUTS = WeakIdKeyDictionary()


def register_fsdp_model(model: nn.Module) -> int:
    """Record the original shapes behind the flat parameters of every FSDP1
    unit in ``model`` so that GC on them is exact for optimizers built
    afterwards. Returns the number of optimizer-visible tensors recorded.

    FSDP1's private metadata is read by
    :func:`mmgc.torch_compat.fsdp1_flat_params`.
    """
    flat_params = fsdp1_flat_params(model)
    for flat in flat_params:
        segments = tuple(
            _Segment(piece.index, piece.offset, piece.numel, piece.start)
            for piece in flat.pieces)
        _LAYOUTS[flat.tensor] = _FlatLayout(flat.names, flat.shapes,
                                            segments, flat.process_group)
    return len(flat_params)


def gc_shapes(param: Tensor) -> List[torch.Size]:
    """The shapes GC sees behind an optimizer tensor: its original weights'
    shapes for a registered FSDP1 flat piece, else its own (global for a
    DTensor)."""
    layout = _LAYOUTS.get(param)
    return list(layout.shapes) if layout is not None else [param.shape]


# --------------------------------------------------------------------------
# Where each optimizer applies GC
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class _Placement:
    conv_only: bool
    on_update: bool
    sign: float = 1.0  # -1 with maximize: the kernel uses -g
    l2: float = 0.0  # L2 decay the kernel adds before GC


def _placement(optimizer, group: dict) -> Optional[_Placement]:
    """How ``optimizer`` applies GC to ``group``, or None when it does not."""
    from .gc_wrapped import _GCStepMixin
    from .gc_adam import GCAdam
    from .gc_radam import GCRAdam
    from .gc_sgd import GCSGD
    from .paper_adagrad import _PaperAdagrad
    from .paper_adam import _PaperAdam
    from .paper_sgd import _PaperSGD

    wd = group.get('weight_decay', 0)
    if isinstance(optimizer, _PaperSGD):
        return _Placement(optimizer.conv_only, False,
                          l2=0 if optimizer.decoupled_weight_decay else wd)
    if isinstance(optimizer, _PaperAdam):
        if optimizer.gc_on_update:
            return _Placement(optimizer.conv_only, True)
        return _Placement(optimizer.conv_only, False,
                          l2=0 if optimizer.old_adamw else wd)
    if isinstance(optimizer, _PaperAdagrad):
        return _Placement(optimizer.conv_only, False, l2=wd)
    if not group.get('use_gc', False):
        return None
    conv_only = group['gc_conv_only']
    if isinstance(optimizer, _GCStepMixin):
        # GC of p.grad before the original step, whatever that step does.
        return _Placement(conv_only, False)
    sign = -1.0 if group.get('maximize', False) else 1.0
    if isinstance(optimizer, GCSGD):
        return _Placement(conv_only, False, sign, wd)
    if isinstance(optimizer, (GCAdam, GCRAdam)):
        if gc_location(group['gc_loc']) == 'update':
            return _Placement(conv_only, True)
        decoupled = group.get('decoupled_weight_decay', False)
        return _Placement(conv_only, False, sign, 0 if decoupled else wd)
    return None


# --------------------------------------------------------------------------
# The step hooks for FSDP1 pieces
# --------------------------------------------------------------------------
@dataclass
class _Entry:
    """One piece of one centralized weight."""
    param: Tensor
    segment: _Segment
    placement: _Placement
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
            placement = _placement(self.optimizer, group)
            if placement is None or placement.on_update != on_update:
                continue
            for p in group['params']:
                layout = _LAYOUTS.get(p)
                if layout is None:
                    continue
                key = id(layout.group)
                buf = buffers.setdefault(
                    key, _Buffer(layout.group, 0, p.device, torch.float32))
                if p.dtype == torch.float64:
                    buf.dtype = torch.float64
                for i, shape in enumerate(layout.shapes):
                    if not gc_applies_to_shape(shape, placement.conv_only):
                        continue
                    rows = shape[0]
                    row_size = shape.numel() // rows if rows else 0
                    for seg in layout.segments:
                        if seg.original == i and seg.numel > 0:
                            entries.append(
                                _Entry(p, seg, placement, key, rows,
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
                add_slice_sums(piece, e.segment.start, e.row_size,
                               sums[e.key][e.slot:e.slot + e.rows])
        for key, b in buffers.items():
            if b.group is not None and b.size:
                dist.all_reduce(sums[key], group=b.group)
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
        seg = e.segment
        piece = grad[seg.offset:seg.offset + seg.numel]
        if e.placement.l2:
            piece = piece.add(e.param[seg.offset:seg.offset + seg.numel],
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
                seg = e.segment
                # g - mean(g + s*wd*w): the kernel's s*g' + wd*w is then
                # s*g + wd*w minus its slice means.
                subtract_slice_means_(grad[seg.offset:seg.offset + seg.numel],
                                      seg.start, e.row_size,
                                      self._means_of(sums, e))
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
            seg = e.segment
            sl = slice(seg.offset, seg.offset + seg.numel)
            return old[sl] - e.param[sl]

        sums = self._slice_means(entries, buffers, update)
        for e in entries:
            if id(e.param) in before:
                seg = e.segment
                # w - u + mean(u) == w - GC(u)
                subtract_slice_means_(
                    e.param[seg.offset:seg.offset + seg.numel], seg.start,
                    e.row_size, -self._means_of(sums, e))


# --------------------------------------------------------------------------
# Build-time checks
# --------------------------------------------------------------------------
_ONE_D = 'one-dimensional (bias, norm)'


def _fsdp1_error(name: str, param: Tensor) -> RuntimeError:
    return RuntimeError(
        f'{name} was given parameters that torch FSDP1 '
        '(FullyShardedDataParallel, as built by mmengine\'s FSDPStrategy) '
        f'has flattened and sharded (a 1-D piece of shape '
        f'{tuple(param.shape)}): GC needs the output slices of each weight, '
        'and the pieces do not show them, so GC would silently be off. '
        f'mmgc centralizes FSDP1 pieces exactly when it knows the FSDP '
        f'model. {FSDP_HOW_TO}')


def _is_ranger(optimizer) -> bool:
    from .ranger import Ranger
    return isinstance(optimizer, Ranger)


def check_gc_at_build(optimizer) -> None:
    """Called by every mmgc optimizer (and GC-wrapped one) at the end of its
    ``__init__``.

    * FSDP1 pieces of known layout: installs the exact sharded GC hooks;
      pieces of unknown layout: raises (GC would silently be off).
    * Warns (:class:`GCEmptyWarning`) when GC was asked for and no tensor
      will be centralized.
    * Installs a check that runs once, at the first step, and raises if the
      parameters were flattened after the build (DeepSpeed ZeRO).
    """
    name = type(optimizer).__name__
    asked, centralized, sharded = False, 0, False
    skipped: Dict[str, int] = {}
    # Per param group with centralized weights: every parameter's shape.
    built: Dict[int, Dict[int, tuple]] = {}
    for index, group in enumerate(optimizer.param_groups):
        placement = _placement(optimizer, group)
        if placement is None:
            continue
        for p in group['params']:
            layout = _LAYOUTS.get(p)
            if layout is None and is_fsdp1_flattened(p):
                raise _fsdp1_error(name, p)
            asked = True
            if layout is not None:
                sharded = True
                if placement.on_update and _is_ranger(optimizer):
                    raise RuntimeError(
                        f'{name} with gc_loc=False centralizes its update '
                        'before its built-in Lookahead step, inside one '
                        'step(); on FSDP1 pieces mmgc centralizes the update '
                        'after the step, which would come after Lookahead. '
                        "Use Lookahead(optimizer=dict(type='GCRAdam', ...)), "
                        'which is exact under FSDP1, or gc_loc=True.')
            for shape in gc_shapes(p):
                if gc_applies_to_shape(shape, placement.conv_only):
                    centralized += 1
                    if layout is None:
                        built.setdefault(index, {})
                else:
                    why = (_ONE_D if len(shape) <= 1 else
                           f'{len(shape)}-D, outside the GCC rule (conv '
                           'weights only, ndim > 3)')
                    skipped[why] = skipped.get(why, 0) + 1
        if index in built:
            built[index] = {id(p): tuple(p.shape) for p in group['params']}
    if asked and centralized == 0:
        reasons = '; '.join(f'{n} {why}' for why, n in skipped.items())
        warnings.warn(
            GCEmptyWarning(
                f'{name} was asked for Gradient Centralization but '
                f'centralizes no tensor: {reasons or "it has no parameters"}'
                '. It runs as the plain optimizer. GC acts on weights with '
                'ndim > 1 (ndim > 3 for the GCC rule): check that the '
                'parameters are not all biases/norms, excluded or frozen, '
                'and not flattened by a sharding engine.'),
            stacklevel=3)
    if built:
        _install_first_step_check(optimizer, built)
    if sharded:
        hooks = _ShardedGC(optimizer)
        optimizer.register_step_pre_hook(hooks.pre_step)
        optimizer.register_step_post_hook(hooks.post_step)


def _install_first_step_check(optimizer, built: Dict[int, dict]) -> None:
    # torch iterates over the hooks while calling them: the check cannot
    # remove itself, it empties ``built`` instead.
    def check(opt, args, kwargs):
        if not built:
            return
        shapes_by_group = dict(built)
        built.clear()
        for index, shapes in shapes_by_group.items():
            if index >= len(opt.param_groups):
                continue
            for p in opt.param_groups[index]['params']:
                if shapes.get(id(p)) == tuple(p.shape) or p.dim() > 1:
                    continue
                if _LAYOUTS.get(p) is not None:
                    continue
                if is_fsdp1_flattened(p):
                    raise _fsdp1_error(type(opt).__name__, p)
                raise RuntimeError(
                    f'{type(opt).__name__}: a parameter group that held '
                    'weights to centralize when the optimizer was built now '
                    f'holds a 1-D tensor of shape {tuple(p.shape)} it was '
                    'not built with. Something flattened the parameters '
                    'after the build (DeepSpeed ZeRO replaces them with flat '
                    'partitions of several weights), and GC would silently '
                    'be off. DeepSpeed is not supported with GC: its ZeRO '
                    'optimizer steps on partitions cut with no regard for '
                    'the output slices GC needs. Train with FSDP '
                    "(FlexibleRunner, strategy=dict(type='GCFSDPStrategy')) "
                    'or DDP instead.')

    optimizer.register_step_pre_hook(check)
