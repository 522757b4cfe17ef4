"""The SGD kernel: SGD with momentum and Gradient Centralization.

Used by the paper's ``SGD_GC``/``SGD_GCC``/``SGDW_GC``/``SGDW_GCC`` and by
``GCSGD``. A single-tensor path and a multi-tensor (``foreach``) path that
gives the same bits on CPU. Neither writes into ``p.grad``; where a
temporary is this step's own (``g + wd * w``, ``-g``), GC and Nesterov's
direction are computed in it in place.
"""
from typing import List, Optional

import torch
from torch import Tensor

from ..gc_ops import (centralize, centralize_, foreach_centralize,
                      foreach_centralize_)
from ._foreach import default_to_foreach, group_by_device_and_dtype, pick

__all__ = ['sgd']


def sgd(params: List[Tensor],
        grads: List[Tensor],
        momentum_buffers: List[Optional[Tensor]],
        *,
        lr: float,
        momentum: float,
        dampening: float,
        weight_decay: float,
        nesterov: bool,
        conv_only: Optional[bool],
        decoupled_weight_decay: bool = False,
        maximize: bool = False,
        foreach: Optional[bool] = None) -> None:
    """SGD with momentum and Gradient Centralization: the one SGD kernel of
    mmgc, used by the paper's SGD(W)_GC(C) and by :class:`~mmgc.optim.GCSGD`.

    For each weight ``w`` with gradient ``g`` (paper, Algorithm 1)::

        d = -g if maximize else g
        d = d + wd * w                    # L2 decay (not with decoupled)
        d = Phi_GC(d)                     # the GC operator, if it applies
        buf = d                           # first step (a copy)
        buf = momentum * buf + (1 - dampening) * d   # later steps
        d = d + momentum * buf if nesterov else buf
        w = w - lr * d
        w = w - lr * wd * w_old           # decoupled decay (SGDW), w_old =
                                          # the weight before this step

    Args:
        conv_only: The GC rule: ``False`` centralizes every tensor with
            ``ndim > 1`` (GC), ``True`` only those with ``ndim > 3`` (GCC),
            ``None`` none at all (plain torch SGD).
        decoupled_weight_decay: SGDW-style decay applied after the step
            instead of L2 decay folded into the gradient.
        foreach: Take the multi-tensor path; ``None`` decides as torch does
            (multi-tensor on CUDA-like devices, single-tensor on CPU). On CPU
            both paths give bit-identical results.

    ``momentum_buffers`` is updated in place (``None`` entries become new
    buffers); ``grads`` are only read, never written.
    """
    if foreach is None:
        foreach = default_to_foreach(params, grads)
    hyper = dict(lr=lr, momentum=momentum, dampening=dampening,
                 weight_decay=weight_decay, nesterov=nesterov,
                 conv_only=conv_only,
                 decoupled_weight_decay=decoupled_weight_decay,
                 maximize=maximize)
    if not foreach:
        _single_tensor_sgd(params, grads, momentum_buffers, **hyper)
        return
    # foreach ops take no sparse tensors: those go one by one (only tensors
    # GC leaves alone can have them; the optimizers check that).
    sparse = [i for i, g in enumerate(grads) if g.is_sparse]
    if sparse:
        _apply_on_subset(_single_tensor_sgd, sparse, params, grads,
                         momentum_buffers, hyper)
        dense = [i for i, g in enumerate(grads) if not g.is_sparse]
        _apply_on_subset(_multi_tensor_sgd, dense, params, grads,
                         momentum_buffers, hyper)
    else:
        _multi_tensor_sgd(params, grads, momentum_buffers, **hyper)


def _apply_on_subset(kernel, indices, params, grads, momentum_buffers, hyper):
    buffers = pick(momentum_buffers, indices)
    kernel(pick(params, indices), pick(grads, indices), buffers, **hyper)
    for i, buf in zip(indices, buffers):
        momentum_buffers[i] = buf


def _single_tensor_sgd(params, grads, momentum_buffers, *, lr, momentum,
                       dampening, weight_decay, nesterov, conv_only,
                       decoupled_weight_decay, maximize):
    for i, param in enumerate(params):
        grad = grads[i]
        # ``owned``: ``d`` is a temporary of this step, not ``p.grad``, so
        # it may be written in place instead of allocating again.
        d, owned = (-grad, True) if maximize else (grad, False)
        if weight_decay != 0 and not decoupled_weight_decay:
            d = d.add_(param, alpha=weight_decay) if owned else d.add(
                param, alpha=weight_decay)
            owned = True
        if conv_only is not None:
            d = centralize_(d, conv_only) if owned else centralize(
                d, conv_only)
            owned = d is not grad

        if momentum != 0:
            buf = momentum_buffers[i]
            if buf is None:
                buf = torch.clone(d).detach()
                momentum_buffers[i] = buf
            else:
                buf.mul_(momentum).add_(d, alpha=1 - dampening)
            if nesterov:
                d = d.add_(buf, alpha=momentum) if owned else d.add(
                    buf, alpha=momentum)
            else:
                d = buf

        if decoupled_weight_decay and weight_decay != 0:
            weight_before_step = param.clone()
            param.add_(d, alpha=-lr)
            param.add_(weight_before_step, alpha=-lr * weight_decay)
        else:
            param.add_(d, alpha=-lr)


def _multi_tensor_sgd(params, grads, momentum_buffers, **hyper):
    if not params:
        return
    for idx in group_by_device_and_dtype(params).values():
        for chunk in _chunks(idx, params, _allocates_beyond_torch(**hyper)):
            if len(chunk) == len(params):  # the common case: no copies
                _multi_tensor_sgd_group(params, grads, momentum_buffers,
                                        **hyper)
            else:
                _apply_on_subset(_multi_tensor_sgd_group, chunk, params,
                                 grads, momentum_buffers, hyper)


def _allocates_beyond_torch(*, weight_decay, nesterov, conv_only,
                            decoupled_weight_decay, maximize, **_) -> bool:
    """Whether this step needs full-size temporaries where torch's foreach
    SGD has none: torch allocates a list only for ``maximize`` or L2 decay
    (and writes Nesterov's direction into ``p.grad``). Here the centralized
    gradients, the out-of-place Nesterov direction and SGDW's copy of the
    weights are new lists."""
    if maximize or (weight_decay != 0 and not decoupled_weight_decay):
        return False  # one fresh list, as in torch; then all in place
    return (conv_only is not None or nesterov
            or (decoupled_weight_decay and weight_decay != 0))


def _chunks(indices, params, bounded: bool):
    """``indices`` in consecutive chunks of at most
    ``max(largest tensor, total / 16)`` elements when ``bounded``: the
    temporaries of one chunk are then a small fraction of the parameters,
    while each chunk is still one foreach launch per operation."""
    if not bounded:
        return [indices]
    sizes = [params[i].numel() for i in indices]
    budget = max(max(sizes), sum(sizes) // 16)
    chunks, current, filled = [], [], 0
    for i, size in zip(indices, sizes):
        if current and filled + size > budget:
            chunks.append(current)
            current, filled = [], 0
        current.append(i)
        filled += size
    chunks.append(current)
    return chunks


def _multi_tensor_sgd_group(params, grads, momentum_buffers, *, lr,
                            momentum, dampening, weight_decay, nesterov,
                            conv_only, decoupled_weight_decay, maximize):
    # The single-tensor kernel's operations, each batched over the list (one
    # device, one dtype). ``owned[i]``: directions[i] is this step's own
    # temporary, so it is written in place rather than copied again.
    if maximize:
        directions = torch._foreach_neg(grads)
        owned = [True] * len(params)
    else:
        directions = list(grads)
        owned = [False] * len(params)
    if weight_decay != 0 and not decoupled_weight_decay:
        if maximize:
            torch._foreach_add_(directions, params, alpha=weight_decay)
        else:
            directions = list(
                torch._foreach_add(directions, params, alpha=weight_decay))
        owned = [True] * len(params)
    if conv_only is not None:
        if all(owned):
            foreach_centralize_(directions, conv_only)
        else:  # nothing owned yet: new tensors only where GC applies
            directions = foreach_centralize(directions, conv_only)
            owned = [d is not g for d, g in zip(directions, grads)]

    if momentum != 0:
        if all(b is not None for b in momentum_buffers):
            torch._foreach_mul_(momentum_buffers, momentum)
            torch._foreach_add_(momentum_buffers, directions,
                                alpha=1 - dampening)
        else:
            for i, buf in enumerate(momentum_buffers):
                if buf is None:
                    momentum_buffers[i] = torch.clone(directions[i]).detach()
                else:
                    buf.mul_(momentum).add_(directions[i],
                                            alpha=1 - dampening)
        if nesterov:
            mine = [i for i, o in enumerate(owned) if o]
            if mine:
                torch._foreach_add_(pick(directions, mine),
                                    pick(momentum_buffers, mine),
                                    alpha=momentum)
            theirs = [i for i, o in enumerate(owned) if not o]
            if theirs:  # p.grad itself: add out of place
                added = torch._foreach_add(pick(directions, theirs),
                                           pick(momentum_buffers, theirs),
                                           alpha=momentum)
                for i, d in zip(theirs, added):
                    directions[i] = d
        else:
            # Drops this step's temporaries before the copy of the weights
            # that SGDW takes below.
            directions = list(momentum_buffers)

    if decoupled_weight_decay and weight_decay != 0:
        weights_before_step = torch._foreach_mul(params, 1.0)
        torch._foreach_add_(params, directions, alpha=-lr)
        torch._foreach_add_(params, weights_before_step,
                            alpha=-lr * weight_decay)
    else:
        torch._foreach_add_(params, directions, alpha=-lr)
