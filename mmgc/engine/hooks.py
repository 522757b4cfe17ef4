"""A hook that reports how much Gradient Centralization removes.

For the tensors GC centralizes, the removed part of a gradient ``G`` is its
per-slice mean ``M = G - centralize(G)``. The hook reports
``||M|| / ||G||`` (norms over all those tensors together) for the whole model
and per top-level module: near 0 means GC changes little, near 1 means the
gradient was mostly a shift of the slice means.
"""
import math
from typing import Dict, Optional

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmgc.optim.gc_ops import centralize, gc_applies
from mmgc.optim.placement import gc_rule_of

__all__ = ['GCStatsHook']


class GCStatsHook(Hook):
    """Log the share of each gradient that GC removes, every ``interval``
    training iterations, to the runner's logger and visualizer backends
    (scalars ``gc/removed_ratio`` and ``gc/removed_ratio/<module>``).

    The gradients are measured inside ``optimizer.step()`` (a step pre-hook),
    where they are final: unscaled by AMP, averaged by DDP, accumulated, and
    clipped. An iteration without a step (accumulation, or an AMP step
    skipped for inf) is measured at the next step.

    Which tensors count follows the optimizer's answer to the placement
    protocol per param group (:func:`mmgc.optim.gc_rule_of`).

    Args:
        interval (int): Measure every this many iterations. Default 50.
        by_module (bool): Also report each top-level module. Default True.

    Config::

        custom_hooks = [dict(type='GCStatsHook', interval=50)]
    """

    priority = 'BELOW_NORMAL'

    def __init__(self, interval: int = 50, by_module: bool = True):
        if isinstance(interval, bool) or not isinstance(
                interval, int) or interval < 1:
            raise ValueError(f'GCStatsHook: interval must be an integer >= 1, '
                             f'got {interval!r}.')
        self.interval = interval
        self.by_module = by_module
        self._armed = False
        self._pending: Optional[Dict[str, float]] = None
        self._handles = []
        self._names: Dict[int, str] = {}

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        self._names = {id(p): name for name, p in model.named_parameters()}
        wrapper = runner.optim_wrapper
        optimizers = (list(wrapper.optim_wrappers.values()) if hasattr(
            wrapper, 'optim_wrappers') else [wrapper])
        for optim_wrapper in optimizers:
            optimizer = optim_wrapper.optimizer
            if not any(gc_rule_of(optimizer, group) is not None
                       for group in optimizer.param_groups):
                runner.logger.warning(
                    f'GCStatsHook: {type(optimizer).__name__} applies no '
                    'Gradient Centralization to any param group, so there '
                    'is nothing to measure and gc/removed_ratio will not be '
                    'logged. Use a GC optimizer (SGD_GC, GCAdamW, ...) or '
                    "constructor='GCOptimWrapperConstructor', or remove the "
                    'hook.')
            self._handles.append(
                optimizer.register_step_pre_hook(self._measure))

    def after_train(self, runner) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        if self.every_n_train_iters(runner, self.interval):
            self._armed = True

    @torch.no_grad()
    def _measure(self, optimizer, args, kwargs) -> None:
        if not self._armed:
            return
        self._armed = False
        removed_sq: Dict[str, float] = {}
        total_sq: Dict[str, float] = {}
        for group in optimizer.param_groups:
            rule = gc_rule_of(optimizer, group)
            if rule is None:
                continue
            for p in group['params']:
                if p.grad is None or not gc_applies(p, rule):
                    continue
                grad = p.grad.detach().double()
                top = self._names.get(id(p), '<unnamed>').split('.')[0]
                removed = grad - centralize(grad, rule)
                removed_sq[top] = removed_sq.get(top, 0.0) + float(
                    removed.square().sum())
                total_sq[top] = total_sq.get(top, 0.0) + float(
                    grad.square().sum())
        if not total_sq:
            return

        def ratio(removed: float, total: float) -> float:
            return math.sqrt(removed / total) if total > 0 else 0.0

        stats = {
            'gc/removed_ratio':
            ratio(sum(removed_sq.values()), sum(total_sq.values()))
        }
        if self.by_module:
            for top in sorted(total_sq):
                stats[f'gc/removed_ratio/{top}'] = ratio(
                    removed_sq[top], total_sq[top])
        self._pending = stats

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if self._pending is None:
            return
        stats, self._pending = self._pending, None
        step = runner.iter + 1
        runner.logger.info(f'GC removed (iter {step}): ' + ', '.join(
            f'{key[3:]}={value:.4f}' for key, value in stats.items()))
        runner.visualizer.add_scalars(stats, step=step)
