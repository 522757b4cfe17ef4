"""Hooks that measure gradients inside ``optimizer.step()``.

* :class:`GCStatsHook`: how much Gradient Centralization removes. For the
  tensors GC centralizes, the removed part of a gradient ``G`` is its
  per-slice mean ``M = G - centralize(G)``. The hook reports
  ``||M|| / ||G||`` (norms over all those tensors together) for the whole
  model and per top-level module: near 0 means GC changes little, near 1
  means the gradient was mostly a shift of the slice means.
* :class:`GradientStatsHook`: the paper's Figure 4, the largest absolute
  value and the L2 norm of the gradient chosen layers' updates use (after GC
  in a GC run), to compare the two runs of a pair over training.

Both measure in a step pre-hook, where the gradients are final: unscaled by
AMP, averaged by DDP, accumulated, and clipped. An iteration without a step
(accumulation, or an AMP step skipped for inf) is measured at the next step.
"""
import math
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmgc.optim.gc_ops import centralize, gc_applies
from mmgc.optim.placement import gc_placement_of, gc_rule_of

__all__ = ['GCStatsHook', 'GradientStatsHook']


def _check_interval(owner: str, interval) -> None:
    if isinstance(interval, bool) or not isinstance(interval,
                                                    int) or interval < 1:
        raise ValueError(f'{owner}: interval must be an integer >= 1, got '
                         f'{interval!r}.')


def _unwrapped(model):
    return model.module if is_model_wrapper(model) else model


def _optimizers(runner) -> list:
    wrapper = runner.optim_wrapper
    wrappers = (list(wrapper.optim_wrappers.values()) if hasattr(
        wrapper, 'optim_wrappers') else [wrapper])
    return [w.optimizer for w in wrappers]


class _StepMeasureHook(Hook):
    """Measure every ``interval`` iterations inside ``optimizer.step()``
    (:meth:`_stats`), then log the scalars after the iteration."""

    priority = 'BELOW_NORMAL'

    def __init__(self, interval: int):
        _check_interval(type(self).__name__, interval)
        self.interval = interval
        self._armed = False
        self._pending: Optional[Dict[str, float]] = None
        self._handles = []

    def before_train(self, runner) -> None:
        for optimizer in _optimizers(runner):
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
        stats = self._stats(optimizer)
        if stats:
            self._pending = dict(self._pending or {}, **stats)

    def _stats(self, optimizer) -> Dict[str, float]:
        raise NotImplementedError

    def _line(self, step: int, stats: Dict[str, float]) -> str:
        raise NotImplementedError

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if self._pending is None:
            return
        stats, self._pending = self._pending, None
        step = runner.iter + 1
        runner.logger.info(self._line(step, stats))
        runner.visualizer.add_scalars(stats, step=step)


class GCStatsHook(_StepMeasureHook):
    """Log the share of each gradient that GC removes, every ``interval``
    training iterations, to the runner's logger and visualizer backends
    (scalars ``gc/removed_ratio`` and ``gc/removed_ratio/<module>``).

    The gradients are measured inside ``optimizer.step()`` (a step
    pre-hook), where they are final (see the module's docstring).

    Which tensors count follows the optimizer's answer to the placement
    protocol per param group (:func:`mmgc.optim.gc_rule_of`).

    Args:
        interval (int): Measure every this many iterations. Default 50.
        by_module (bool): Also report each top-level module. Default True.

    Config::

        custom_hooks = [dict(type='GCStatsHook', interval=50)]
    """

    def __init__(self, interval: int = 50, by_module: bool = True):
        super().__init__(interval)
        self.by_module = by_module
        self._names: Dict[int, str] = {}

    def before_train(self, runner) -> None:
        model = _unwrapped(runner.model)
        self._names = {id(p): name for name, p in model.named_parameters()}
        for optimizer in _optimizers(runner):
            if not any(gc_rule_of(optimizer, group) is not None
                       for group in optimizer.param_groups):
                runner.logger.warning(
                    f'GCStatsHook: {type(optimizer).__name__} applies no '
                    'Gradient Centralization to any param group, so there '
                    'is nothing to measure and gc/removed_ratio will not be '
                    'logged. Use a GC optimizer (SGD_GC, GCAdamW, ...) or '
                    "constructor='GCOptimWrapperConstructor', or remove the "
                    'hook.')
        super().before_train(runner)

    def _stats(self, optimizer) -> Dict[str, float]:
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
            return {}

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
        return stats

    def _line(self, step: int, stats: Dict[str, float]) -> str:
        return f'GC removed (iter {step}): ' + ', '.join(
            f'{key[3:]}={value:.4f}' for key, value in stats.items())


class GradientStatsHook(_StepMeasureHook):
    """Log, for chosen layers, the largest absolute value and the L2 norm of
    the gradient the update uses, every ``interval`` iterations: the curves
    of the paper's Figure 4 (first conv layer and last fc layer, with and
    without GC).

    The gradient is ``p.grad`` as the step receives it (see the module's
    docstring); where the optimizer centralizes that tensor's gradient
    (GC on the gradient, per the placement protocol) it is the centralized
    gradient, so the GC run shows what GC leaves. Weight decay is not folded
    in: the curves compare the loss's gradients. With GC on the final update
    (``gc_loc='update'``) the gradient is not what GC changes, and it is
    reported as it is.

    Scalars: ``grad_max/<layer>`` and ``grad_l2/<layer>``, where ``<layer>``
    is the parameter's name; ``tools/compare.py`` plots both runs of a pair
    when they logged them.

    Args:
        interval (int): Measure every this many iterations. Default 50.
        layers (list[str], optional): Parameter names (as
            ``model.named_parameters()`` gives them). Default: the first
            conv weight (4-D) and the last fc weight (2-D) of the model.

    Config::

        custom_hooks = [dict(type='GradientStatsHook', interval=10)]
    """

    def __init__(self, interval: int = 50,
                 layers: Optional[Sequence[str]] = None):
        super().__init__(interval)
        if layers is not None and (isinstance(layers, str) or not all(
                isinstance(name, str) for name in layers)):
            raise TypeError('GradientStatsHook: layers must be a list of '
                            f'parameter names, got {layers!r}.')
        self.layers = None if layers is None else list(layers)
        self._chosen: Dict[int, str] = {}

    def before_train(self, runner) -> None:
        named = dict(_unwrapped(runner.model).named_parameters())
        names = self.layers or default_gradient_layers(named)
        unknown = [name for name in names if name not in named]
        if unknown:
            raise KeyError(
                f'GradientStatsHook: the model has no parameter '
                f'{", ".join(unknown)}. Parameter names look like '
                f'{", ".join(list(named)[:3])}, ...')
        self._chosen = {id(named[name]): name for name in names}
        super().before_train(runner)

    def _stats(self, optimizer) -> Dict[str, float]:
        stats = {}
        for group in optimizer.param_groups:
            placement = gc_placement_of(optimizer, group)
            for p in group['params']:
                name = self._chosen.get(id(p))
                if name is None or p.grad is None:
                    continue
                grad = p.grad.detach().double()
                if (placement is not None and not placement.on_update
                        and gc_applies(p, placement.conv_only)):
                    grad = centralize(grad, placement.conv_only)
                stats[f'grad_max/{name}'] = float(grad.abs().max())
                stats[f'grad_l2/{name}'] = float(grad.norm())
        return stats

    def _line(self, step: int, stats: Dict[str, float]) -> str:
        return f'Gradients (iter {step}): ' + ', '.join(
            f'{key}={value:.4g}' for key, value in stats.items())


def default_gradient_layers(named: Dict[str, torch.Tensor]) -> List[str]:
    """The first conv weight (4-D) and the last fc weight (2-D) of a model,
    in ``named_parameters()`` order: the layers of the paper's Figure 4."""
    convs = [name for name, p in named.items() if p.dim() == 4]
    fcs = [name for name, p in named.items() if p.dim() == 2]
    if not convs and not fcs:
        raise ValueError('GradientStatsHook: the model has no conv or fc '
                         'weight; name the layers with layers=[...].')
    return convs[:1] + fcs[-1:]
