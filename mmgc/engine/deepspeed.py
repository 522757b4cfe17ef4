"""mmengine's DeepSpeedStrategy with exact Gradient Centralization.

DeepSpeed ZeRO hands the optimizer, instead of the weights, one flat fp32
partition per param group and rank (stages 1 and 2), or one per sub-group
that it puts in place only while that sub-group steps (stage 3). The
partitions are cut with no regard for output slices, so the optimizer's own
GC would centralize nothing. ZeRO knows exactly which elements of which
weight every partition holds; :class:`GCDeepSpeedStrategy` reads that after
``deepspeed.initialize`` (:func:`zero_partitions`, the only code that reads
DeepSpeed's private layout) into the flat-layout records of torch FSDP1
(:class:`mmgc.optim.sharded_gc.FlatLayout`) and registers them, so the same
step hooks make GC exact: one all-reduce of per-slice sums per step.

The hooks run inside the client optimizer's ``step()``, which ZeRO calls
after its overflow check (a skipped fp16 step never reaches them), after
unscaling the loss scale and after gradient clipping, on the fp32 master
partitions: GC sees what it would see without DeepSpeed.
"""
import importlib
import os
from datetime import timedelta
from typing import Dict, List, Optional, Tuple

import torch
import torch.distributed as torch_dist
from mmengine._strategy import DeepSpeedStrategy
from mmengine.registry import OPTIMIZERS
from torch import Tensor, nn

from mmgc.optim.gc_coverage import check_gc_after_sharding, check_gc_at_build
from mmgc.optim.placement import gc_delegate_of, gc_placement_of
from mmgc.optim.sharded_gc import FlatLayout, FlatPiece, register_layout

try:
    import deepspeed
except ImportError:  # the strategy says how to install it when built
    deepspeed = None

try:  # mmengine >= 0.8: where DeepSpeedStrategy registers DS's optimizers
    import mmengine._strategy.deepspeed as _mmengine_deepspeed
except ImportError:
    _mmengine_deepspeed = None

__all__ = [
    'GCDeepSpeedStrategy', 'zero_partitions', 'zero3_shared_groups',
    'register_zero_layouts', 'register_deepspeed_optimizers',
    'DEEPSPEED_INSTALL'
]

DEEPSPEED_INSTALL = ("DS_BUILD_OPS=0 pip install 'mmgc[deepspeed]' (or "
                     "'deepspeed>=0.19.8,<0.20')")

#: DeepSpeed's own optimizers that mmengine registers: (module, class).
#: The 1-bit ones are gone from DeepSpeed 0.19.
_DEEPSPEED_OPTIMIZERS = (
    ('deepspeed.ops.adam', 'DeepSpeedCPUAdam'),
    ('deepspeed.ops.adam', 'FusedAdam'),
    ('deepspeed.ops.lamb', 'FusedLamb'),
    ('deepspeed.runtime.fp16.onebit', 'OnebitAdam'),
    ('deepspeed.runtime.fp16.onebit', 'OnebitLamb'),
    ('deepspeed.runtime.fp16.onebit', 'ZeroOneAdam'),
)


def register_deepspeed_optimizers() -> List[str]:
    """Register in mmengine's ``OPTIMIZERS`` the DeepSpeed optimizers that
    the installed DeepSpeed has; returns their names.

    What mmengine's function of that name does, except that it does not
    fail where DeepSpeed 0.19 removed the 1-bit optimizers, nor when called
    a second time in one process (a second strategy).
    """
    if deepspeed is None:
        return []
    registered = []
    for module_name, class_name in _DEEPSPEED_OPTIMIZERS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        cls = getattr(module, class_name, None)
        if cls is None:
            continue
        if OPTIMIZERS.module_dict.get(class_name) is None:
            OPTIMIZERS.register_module(module=cls)
        registered.append(class_name)
    return registered


# --------------------------------------------------------------------------
# DeepSpeed ZeRO's partitions (private DeepSpeed API, read only here)
# --------------------------------------------------------------------------
def _layout_error(zero_optimizer, exc: Exception) -> RuntimeError:
    version = getattr(deepspeed, '__version__', '?')
    return RuntimeError(
        f'mmgc cannot read the layout of the ZeRO partitions of '
        f'{type(zero_optimizer).__name__} in DeepSpeed {version} ({exc!r}), '
        'so GC could not be exact on them. Use a DeepSpeed release of the '
        'range mmgc supports (docs/en/compatibility.md), or train without '
        'GC.')


def _partition(group_index: int, fp32: Tensor, params, names: Dict[int, str],
               shapes, pieces,
               process_group) -> Tuple[int, Tensor, FlatLayout]:
    """One entry of :func:`zero_partitions`."""
    layout = FlatLayout(
        tuple(names.get(id(p), f'<param {j}>') for j, p in enumerate(params)),
        shapes, tuple(pieces), process_group,
        _comm_device(fp32, process_group))
    return group_index, fp32, layout


def _stage12_partitions(zero_optimizer, names: Dict[int, str]):
    """ZeRO-1/2: one flat fp32 partition per param group; the group's
    weights (reordered for round-robin gradients, aligned) are flattened
    into one buffer cut into equal parts, one per data-parallel rank."""
    found = []
    opt = zero_optimizer
    for i, fp32 in enumerate(opt.single_partition_of_fp32_groups):
        process_group = opt.real_dp_process_group[i]
        rank = torch_dist.get_rank(group=process_group)
        size = int(opt.partition_size[i])
        params = opt.round_robin_bit16_groups[i]
        metas = getattr(opt, 'round_robin_bit16_meta', None)
        # Shapes from the metadata where DeepSpeed keeps it: offloaded
        # states may replace a parameter's storage.
        shapes = tuple(
            torch.Size(m.shape)
            for m in metas[i]) if metas else tuple(p.shape for p in params)
        offsets = getattr(opt, 'round_robin_bit16_offsets', None)
        if offsets:
            offsets = list(offsets[i])
        else:  # releases before per-parameter alignment: packed
            offsets, at = [], 0
            for shape in shapes:
                offsets.append(at)
                at += shape.numel()
        if fp32.numel() != size:
            raise ValueError(f'partition of {fp32.numel()} elements, '
                             f'expected {size}')
        low, high = rank * size, (rank + 1) * size
        pieces = []
        for index, (shape, offset) in enumerate(zip(shapes, offsets)):
            first = max(offset, low)
            last = min(offset + shape.numel(), high)
            if first < last:
                pieces.append(
                    FlatPiece(index, first - low, last - first,
                              first - offset))
        found.append(
            _partition(i, fp32, params, names, shapes, pieces, process_group))
    return found


def _stage3_partitions(zero_optimizer, names: Dict[int, str]):
    """ZeRO-3: every weight is cut into equal parts, one per rank of its
    process group (the last padded); a sub-group's fp32 partition is this
    rank's parts of its weights, one after the other."""
    found = []
    opt = zero_optimizer
    for i, fp32 in enumerate(opt.fp32_partitioned_groups_flat):
        if opt._swappable_optimizer_subgroup(i):
            raise RuntimeError(
                'GC under ZeRO-3 with the optimizer states offloaded to NVMe '
                "(offload_optimizer.device='nvme') is not supported: the "
                'fp32 partitions are swapped in and out of files, which '
                "mmgc has not verified. Use offload_optimizer.device='cpu' "
                'or no optimizer offload.')
        params = opt.fp16_groups[i]
        process_group = opt._get_sub_group_process_group(i)
        pieces, offset = [], 0
        for index, param in enumerate(params):
            part = int(param.ds_tensor.ds_numel)
            rank = torch_dist.get_rank(group=param.ds_process_group)
            start = rank * part
            numel = max(0, min(part, int(param.ds_numel) - start))
            if numel:
                pieces.append(FlatPiece(index, offset, numel, start))
            offset += part
        if offset != fp32.numel():
            raise ValueError(f'sub-group {i}: partition of {fp32.numel()} '
                             f'elements, its parameters add up to {offset}')
        found.append(
            _partition(int(opt.sub_group_to_group_id[i]), fp32, params, names,
                       tuple(torch.Size(p.ds_shape) for p in params), pieces,
                       process_group))
    return found


def zero_partitions(
        zero_optimizer,
        model: nn.Module) -> Optional[List[Tuple[int, Tensor, FlatLayout]]]:
    """The fp32 partitions of a DeepSpeed ZeRO optimizer, each as (the
    client optimizer's param group it steps in, by index; the tensor; the
    layout of the model's weights in it); None when ``zero_optimizer`` is
    not a ZeRO stage 1-3 optimizer (no ZeRO: the client optimizer steps on
    the weights).

    Reads DeepSpeedZeroOptimizer's ``single_partition_of_fp32_groups``,
    ``round_robin_bit16_groups``/``_meta``/``_offsets``, ``partition_size``,
    ``real_dp_process_group`` (stages 1, 2) and
    DeepSpeedZeroOptimizer_Stage3's ``fp32_partitioned_groups_flat``,
    ``fp16_groups``, ``sub_group_to_group_id``, the parameters' ``ds_tensor``
    / ``ds_numel`` / ``ds_shape`` / ``ds_process_group`` (stage 3).
    """
    names = {id(p): name for name, p in model.named_parameters()}
    try:
        if hasattr(zero_optimizer, 'fp32_partitioned_groups_flat'):
            return _stage3_partitions(zero_optimizer, names)
        if hasattr(zero_optimizer, 'single_partition_of_fp32_groups'):
            return _stage12_partitions(zero_optimizer, names)
    except (AttributeError, IndexError, TypeError, ValueError) as exc:
        raise _layout_error(zero_optimizer, exc) from exc
    return None


def zero3_shared_groups(zero_optimizer) -> List[int]:
    """The param groups that ZeRO-3 steps in several sub-groups (one
    ``step()`` of the client optimizer each), by index."""
    owners = getattr(zero_optimizer, 'sub_group_to_group_id', None) or {}
    counts: Dict[int, int] = {}
    for group_index in owners.values():
        counts[group_index] = counts.get(group_index, 0) + 1
    return sorted(i for i, n in counts.items() if n > 1)


def _comm_device(tensor: Tensor, process_group) -> Optional[torch.device]:
    """Where the group's collectives take tensors, when a CPU partition
    (ZeRO-Offload) belongs to a GPU process group."""
    if tensor.device.type != 'cpu' or not torch.cuda.is_available():
        return None
    backend = torch_dist.get_backend(process_group)
    if 'nccl' in str(backend):
        return torch.device('cuda', torch.cuda.current_device())
    return None


def register_zero_layouts(engine) -> Optional[Dict[int, List[Tensor]]]:
    """Register the layout of every fp32 partition of a DeepSpeed engine's
    ZeRO optimizer (:func:`mmgc.optim.sharded_gc.register_layout`); returns
    the partitions each param group of the client optimizer steps on, by
    index, None without ZeRO."""
    partitions = zero_partitions(engine.optimizer, engine.module)
    if partitions is None:
        return None
    tensors_by_group: Dict[int, List[Tensor]] = {}
    for group_index, tensor, layout in partitions:
        register_layout(tensor, layout)
        tensors_by_group.setdefault(group_index, []).append(tensor)
    return tensors_by_group


# --------------------------------------------------------------------------
# The strategy
# --------------------------------------------------------------------------
def _asks_for_gc(optimizer) -> bool:
    delegate = gc_delegate_of(optimizer)
    return any(
        gc_placement_of(delegate, group) is not None
        for group in delegate.param_groups)


def _deepspeed_class(optimizer) -> Optional[type]:
    """DeepSpeed's own optimizer class behind ``optimizer`` (also inside
    Lookahead or GCWrapped<...>), else None."""
    delegate = gc_delegate_of(optimizer)
    for cls in (type(optimizer), type(delegate),
                getattr(delegate, 'wrapped_class', None)):
        if cls is not None and cls.__module__.startswith('deepspeed.'):
            return cls
    return None


def _adagrad_message(optimizer) -> str:
    return (f'GCDeepSpeedStrategy: DeepSpeed ZeRO replaces '
            f'{type(optimizer).__name__} with a plain torch.optim.Adagrad (it '
            'rebuilds every torch Adagrad, GCWrapped<Adagrad> included), '
            "which never runs mmgc's GC. Use optimizer=dict(type="
            "'Adagrad_GC', ...) instead.")


def _stage0_message(what: str) -> str:
    return ('GCDeepSpeedStrategy makes GC exact under ZeRO stages 1, 2 and '
            f'3; without ZeRO, DeepSpeed steps {what} through its own '
            'FP16_Optimizer/BF16_Optimizer, whose flat buffers mmgc does not '
            'read. Set zero_optimization=dict(stage=1) (the weights as '
            'without ZeRO, the optimizer states sharded).')


class GCDeepSpeedStrategy(DeepSpeedStrategy):
    """``DeepSpeedStrategy`` that makes GC exact on the ZeRO partitions.

    Same arguments as mmengine's. In a FlexibleRunner config::

        runner_type = 'FlexibleRunner'
        strategy = dict(type='GCDeepSpeedStrategy',
                        zero_optimization=dict(stage=2))
        optim_wrapper = dict(type='DeepSpeedOptimWrapper',
                             optimizer=dict(type='SGD_GC', lr=0.02))

    What it adds to mmengine's:

    * after ``deepspeed.initialize`` it registers the layout of every ZeRO
      partition (stages 1, 2 and 3) so that every mmgc optimizer, every
      ``GCOptimWrapperConstructor`` optimizer and any optimizer answering
      the GC placement protocol centralizes them exactly;
    * it refuses, when GC is asked for, what would step without mmgc's
      code: DeepSpeed's own optimizers (FusedAdam, DeepSpeedCPUAdam, ...),
      an ``optimizer`` in the DeepSpeed config, DeepSpeed's replacement of a
      ``torch.optim.Adagrad`` subclass, ZeRO stage 0 with fp16/bf16;
    * ``zero_allow_untested_optimizer`` defaults to True (a client optimizer
      is always "untested" for DeepSpeed; mmgc tests its own under ZeRO);
      ``train_micro_batch_size_per_gpu`` to the train dataloader's batch
      size, as FlexibleRunner sets it for mmengine's strategy;
    * it runs with DeepSpeed 0.19, whose removal of the 1-bit optimizers
      breaks mmengine 0.10.7's registration of DeepSpeed's optimizers, and
      on CPUs (torchrun + gloo), where mmengine would call
      ``torch.cuda.set_device``.
    """

    def __init__(self, **kwargs):
        if deepspeed is None:
            raise ImportError(
                f'GCDeepSpeedStrategy needs DeepSpeed: {DEEPSPEED_INSTALL}.')
        # mmengine's __init__ ends by registering DeepSpeed's optimizers; its
        # function imports the 1-bit optimizers (gone in DeepSpeed 0.19) and
        # refuses a name registered by an earlier strategy. mmgc's function
        # stands in for it during this call.
        original = getattr(_mmengine_deepspeed,
                           'register_deepspeed_optimizers', None)
        if original is not None:
            _mmengine_deepspeed.register_deepspeed_optimizers = (
                register_deepspeed_optimizers)
        try:
            super().__init__(**kwargs)
        finally:
            if original is not None:
                _mmengine_deepspeed.register_deepspeed_optimizers = original
        self.config.setdefault('zero_allow_untested_optimizer', True)

    def _setup_distributed(self, launcher=None, backend='nccl', **kwargs):
        if torch.cuda.is_available():
            return super()._setup_distributed(launcher, backend, **kwargs)
        # mmengine's init_dist calls torch.cuda.set_device first.
        if backend != 'gloo':
            raise RuntimeError(
                'Distributed training without GPUs needs the gloo backend, '
                f'but the config sets env_cfg.dist_cfg.backend={backend!r}. '
                'Add "--cfg-options env_cfg.dist_cfg.backend=gloo" to the '
                'command.')
        if launcher != 'pytorch' or 'RANK' not in os.environ:
            raise RuntimeError(
                'GCDeepSpeedStrategy on CPUs runs under torchrun '
                '(tools/dist_train.sh, --launcher pytorch); got launcher '
                f'{launcher!r}.')
        timeout = kwargs.pop('timeout', None)
        if timeout is not None:
            kwargs['timeout'] = timedelta(seconds=timeout)
        deepspeed.init_distributed(dist_backend='gloo', **kwargs)

    def build_optim_wrapper(self, optim_wrapper, model=None):
        if isinstance(optim_wrapper, dict) and 'optimizer' in optim_wrapper:
            optim_wrapper = dict(optim_wrapper)
            optim_wrapper.setdefault('type', 'DeepSpeedOptimWrapper')
        built = super().build_optim_wrapper(optim_wrapper, model)
        optimizer = built.optimizer
        # An optimizer from elsewhere that answers the placement protocol
        # is checked like mmgc's own (which checked themselves already).
        check_gc_at_build(optimizer)
        if _asks_for_gc(optimizer):
            self._refuse_without_gc_code(optimizer)
        return built

    def _refuse_without_gc_code(self, optimizer) -> None:
        ds_class = _deepspeed_class(optimizer)
        if ds_class is not None:
            raise ValueError(
                f'GCDeepSpeedStrategy: {ds_class.__name__} is one of '
                "DeepSpeed's own optimizers; it updates the weights in its "
                "own kernels, which never run mmgc's GC, so GC would "
                'silently be off. Use an mmgc optimizer (SGD_GC, GCAdamW, '
                "...) or a torch one through constructor="
                "'GCOptimWrapperConstructor'.")
        zero_stage = (self.config.get('zero_optimization') or {}).get(
            'stage', 0)
        if isinstance(optimizer, torch.optim.Adagrad) and zero_stage:
            raise ValueError(_adagrad_message(optimizer))
        low_precision = [
            key for key in ('fp16', 'bf16')
            if (self.config.get(key) or {}).get('enabled')
        ]
        if low_precision and not zero_stage:
            raise ValueError(_stage0_message(low_precision[0]))
        if self.config.get('optimizer'):
            raise ValueError(
                'GCDeepSpeedStrategy: the DeepSpeed config names an '
                f"optimizer ({self.config['optimizer'].get('type')!r}); "
                "DeepSpeed's optimizers never run mmgc's GC. Remove "
                "'optimizer' from the DeepSpeed config and set the optimizer "
                'in optim_wrapper.optimizer (e.g. GCAdamW).')

    def _wrap_model(self, model: nn.Module):
        # FlexibleRunner fills this in for mmengine's DeepSpeedStrategy only,
        # by its name; the dataloader's batch size reaches every strategy.
        if ('train_micro_batch_size_per_gpu' not in self.config
                and 'train_batch_size' not in self.config):
            self.config['train_micro_batch_size_per_gpu'] = (
                self.dispatch_kwargs.get('train_micro_batch_size_per_gpu')
                or 1)
        client = getattr(getattr(self, 'optim_wrapper', None), 'optimizer',
                         None)
        wrapped = super()._wrap_model(model)
        if client is not None:
            self._make_gc_exact(wrapped.model, client)
        return wrapped

    @staticmethod
    def _make_gc_exact(engine, client) -> None:
        """Register the ZeRO layout and install the sharded-GC hooks on the
        optimizer mmgc built (``client``), or refuse where GC would not be
        exact."""
        split = zero3_shared_groups(engine.optimizer)
        if split and any('lookahead_step' in client.param_groups[i]
                         for i in split):
            # Lookahead and Ranger count steps per param group.
            raise RuntimeError(
                f'{type(client).__name__} counts its Lookahead steps per '
                'param group, and ZeRO-3 steps param groups '
                f'{split} in several sub-groups, each a step of its own, so '
                'the slow weights would sync too often. Raise '
                'zero_optimization.sub_group_size above the number of '
                "elements of the largest param group's partition (the "
                'default, 1e9, is).')
        if not _asks_for_gc(client):
            return
        stepping = getattr(engine.optimizer, 'optimizer', engine.optimizer)
        if stepping is not client and engine.optimizer is not client:
            raise RuntimeError(_adagrad_message(client))
        tensors_by_group = register_zero_layouts(engine)
        if tensors_by_group is None and engine.optimizer is not client:
            raise RuntimeError(_stage0_message(
                type(engine.optimizer).__name__))
        check_gc_after_sharding(client, tensors_by_group)
