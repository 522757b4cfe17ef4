"""What mmgc's optimizers need from the installed torch, in one place.

mmgc's optimizers run on torch 2.0-2.14. Everything that differs between
those releases, and every private torch API the optimizers touch, is reached
through this module only, so a new torch release means one file to read:

* :func:`torch_version_at_least`, :data:`TORCH_VERSION`;
* the arithmetic of torch's own Adam/AdamW/RAdam kernels
  (:data:`TORCH_ADAM_STYLE`), so that mmgc's GC optimizers with
  ``use_gc=False`` are bit-identical to the installed torch, not to one
  release;
* constructor options of torch.optim classes (:func:`init_torch_optimizer`,
  :func:`check_torch_options`), with the release that added each option;
* torch.optim internals: the foreach default, the step-hook wrapper;
* ``tree_leaves`` (absent from torch 2.0/2.1);
* the layout of FSDP1's flat parameters (:func:`fsdp1_flat_params`).

It imports torch only: the kernels and optimizers load nothing of
mmengine through it. What the tools and the Runner need (stack probes, the
checkpoint allow-list) is in :mod:`mmgc.compat`.
"""
import inspect
import math
import re
from collections import OrderedDict
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

import torch
from torch import Tensor
from torch.utils import _pytree

try:
    from torch.optim.optimizer import _default_to_fused_or_foreach
except ImportError:  # private; gone in some future torch
    _default_to_fused_or_foreach = None

__all__ = [
    'TORCH_VERSION', 'torch_version_at_least', 'TorchAdamStyle',
    'TORCH_ADAM_STYLE', 'TORCH_OPTION_SINCE', 'init_torch_optimizer',
    'check_torch_options', 'default_to_foreach', 'unhooked_step',
    'init_step_hooks', 'tree_leaves', 'is_fsdp1_flattened', 'fsdp1_flat_params'
]


def _parse_version(version: str) -> Tuple[int, int]:
    match = re.match(r'(\d+)\.(\d+)', version)
    if match is None:
        raise ValueError(f'cannot read a version number from {version!r}')
    return int(match.group(1)), int(match.group(2))


#: (major, minor) of the installed torch.
TORCH_VERSION: Tuple[int, int] = _parse_version(torch.__version__)


def torch_version_at_least(version: str) -> bool:
    """Whether the installed torch is at least ``version`` ('2.5')."""
    return TORCH_VERSION >= _parse_version(version)


# --------------------------------------------------------------------------
# Arithmetic of torch's Adam-family kernels
# --------------------------------------------------------------------------
class TorchAdamStyle(NamedTuple):
    """How the installed torch writes two steps of Adam, AdamW and RAdam
    (single-tensor and foreach paths alike).

    Checked against the sources of torch 2.0.1, 2.1.2 and 2.14.1: the first
    moment moved from ``m.mul_(b1).add_(g, alpha=1 - b1)`` to
    ``m.lerp_(g, 1 - b1)`` in 2.1; the square roots of Python-float bias
    corrections (and RAdam's rectification) from ``math.sqrt`` to ``** 0.5``
    in 2.5. The results differ in the last bit, which is enough to break
    bit-identity with torch.
    """

    #: first moment by ``lerp_`` (else ``mul_`` then ``add_``).
    lerp_first_moment: bool
    #: square root of a Python float.
    sqrt: Callable[[float], float]


def _pow_sqrt(value: float) -> float:
    return value**0.5


#: The arithmetic of the installed torch's Adam/AdamW/RAdam.
TORCH_ADAM_STYLE = TorchAdamStyle(
    lerp_first_moment=torch_version_at_least('2.1'),
    sqrt=_pow_sqrt if torch_version_at_least('2.5') else math.sqrt)


# --------------------------------------------------------------------------
# Constructor options of torch.optim classes
# --------------------------------------------------------------------------
#: (class name, option) -> the torch release that added the option. Only
#: options added inside the supported range (2.0-2.14) are listed.
TORCH_OPTION_SINCE: Dict[Tuple[str, str], str] = {
    ('SGD', 'fused'): '2.3',
    ('Adam', 'decoupled_weight_decay'): '2.7',
    ('Adagrad', 'fused'): '2.5',
    ('RAdam', 'decoupled_weight_decay'): '2.2',
    ('RAdam', 'maximize'): '2.2',
    ('RAdam', 'capturable'): '2.2',
    ('NAdam', 'decoupled_weight_decay'): '2.1',
    ('NAdam', 'maximize'): '2.2',
    ('NAdam', 'capturable'): '2.1',
    ('AdamW', 'fused'): '2.0',
}


def _accepted_options(torch_cls: type) -> set:
    return set(inspect.signature(torch_cls.__init__).parameters)


def check_torch_options(cls: type, options: Dict[str, Any]) -> None:
    """Refuse options that ``cls.__init__`` does not take.

    For a torch.optim class the TypeError names the installed torch and the
    release that adds the option, instead of torch's "unexpected keyword
    argument" from deep inside the build.
    """
    parameters = inspect.signature(cls.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD
           for p in parameters.values()):
        return
    missing = [name for name in options if name not in parameters]
    if not missing:
        return
    from_torch = cls.__module__.startswith('torch.optim')
    problems = []
    for name in missing:
        since = TORCH_OPTION_SINCE.get((cls.__name__, name))
        if since:
            problems.append(f"'{name}' (added in torch {since})")
        elif from_torch:
            problems.append(f"'{name}' (in no torch release mmgc knows of)")
        else:
            problems.append(f"'{name}'")
    owner = (f'torch.optim.{cls.__name__} of the installed torch '
             f'{torch.__version__}' if from_torch else
             f'{cls.__module__}.{cls.__name__}')
    advice = ('Upgrade torch or remove the option from the optimizer '
              'config.' if from_torch else
              'Remove it from the optimizer config.')
    raise TypeError(f"{owner} has no option {', '.join(problems)}. {advice}")


def init_torch_optimizer(torch_cls: type, optimizer, params,
                         **options) -> None:
    """Run ``torch_cls.__init__`` on ``optimizer`` with the options the
    installed torch accepts.

    mmgc's GC optimizers take every option of the newest torch and implement
    it in their own kernels (``maximize``, ``decoupled_weight_decay``, ...);
    the options an older torch lacks are put into ``defaults`` and every param
    group here, as torch would have done.
    """
    accepted = _accepted_options(torch_cls)
    torch_cls.__init__(optimizer, params,
                       **{k: v for k, v in options.items() if k in accepted})
    extra = {k: v for k, v in options.items() if k not in accepted}
    optimizer.defaults.update(extra)
    for group in optimizer.param_groups:
        for key, value in extra.items():
            group.setdefault(key, value)


# --------------------------------------------------------------------------
# torch.optim internals
# --------------------------------------------------------------------------
def default_to_foreach(tensors: List[Optional[Tensor]]) -> bool:
    """``foreach=None`` resolved as torch.optim resolves it: the multi-tensor
    path where every tensor is on a device with native foreach kernels
    (CUDA and the like), the single-tensor path elsewhere (CPU)."""
    tensors = [t for t in tensors if t is not None]
    if _default_to_fused_or_foreach is None:
        return bool(tensors) and all(t.is_cuda for t in tensors)
    _, foreach = _default_to_fused_or_foreach(tensors, False, False)
    return foreach


def unhooked_step(step: Callable) -> Callable:
    """A bound optimizer ``step`` without torch's step-hook wrapper.

    torch wraps each optimizer class's ``step`` once (the ``hooked`` flag, the
    wrapped function in ``__wrapped__``) so that step hooks and the profiler
    run. A subclass whose own step already ran them calls
    ``unhooked_step(super().step)()`` so they do not run twice.
    """
    func = getattr(step, '__func__', step)
    if getattr(func, 'hooked', False) and hasattr(func, '__wrapped__'):
        return func.__wrapped__.__get__(step.__self__)
    return step


def init_step_hooks(optimizer) -> None:
    """Set up torch's per-optimizer hook registries and step wrapper on an
    optimizer whose ``Optimizer.__init__`` is not run (a wrapper such as
    Lookahead, whose params and groups belong to the optimizer it wraps).

    The registries present differ between torch releases (the state_dict
    hooks came in 2.1); every one is created, which older releases ignore.
    """
    for name in ('_optimizer_step_pre_hooks', '_optimizer_step_post_hooks',
                 '_optimizer_state_dict_pre_hooks',
                 '_optimizer_state_dict_post_hooks',
                 '_optimizer_load_state_dict_pre_hooks',
                 '_optimizer_load_state_dict_post_hooks'):
        setattr(optimizer, name, OrderedDict())
    patch = getattr(optimizer, '_patch_step_function', None)
    if patch is not None:
        patch()


def tree_leaves(tree) -> list:
    """``torch.utils._pytree.tree_leaves`` (torch >= 2.2), also on 2.0/2.1."""
    if hasattr(_pytree, 'tree_leaves'):
        return _pytree.tree_leaves(tree)
    return _pytree.tree_flatten(tree)[0]


# --------------------------------------------------------------------------
# FSDP1's flat parameters (private torch API)
# --------------------------------------------------------------------------
def is_fsdp1_flattened(param: Tensor) -> bool:
    """Whether FSDP1 flattened this tensor (it marks every parameter it
    flattened and every flat parameter)."""
    return bool(getattr(param, '_fsdp_flattened', False))


def fsdp1_flat_params(model: torch.nn.Module) -> List[tuple]:
    """The tensors an optimizer of an FSDP1 ``model`` receives, each with
    the layout of the original weights in it (``use_orig_params=True``: one
    tensor per weight, possibly empty; ``False``: one per flat buffer).

    Each as the arguments of
    :func:`mmgc.optim.sharded_gc.register_flat_layout`, in plain types (the
    layout record is mmgc.optim's; this module imports torch only):
    ``(tensor, names, shapes, pieces, process_group)``, a piece
    ``(index, offset, numel, start)``, the group None under NO_SHARD.

    Reads FSDP1's private metadata (``_handle``, ``flat_param._shapes``,
    ``_fqns``, ``_params``, ``_shard_param_infos``); raises naming the torch
    version where these are missing.
    """
    try:
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
    except ImportError:  # torch built without distributed
        return []
    found = []
    for unit in FSDP.fsdp_modules(model):
        if not hasattr(unit, '_handle') and getattr(unit, '_handles', None):
            # torch 2.0 keeps a list of handles with another layout API.
            raise RuntimeError(
                f'mmgc reads the layout of FSDP1 from torch 2.1 on; the '
                f'installed torch {torch.__version__} keeps it differently, '
                'so GC cannot be made exact on its flat parameters. Upgrade '
                'torch (>= 2.1), or train with DDP.')
        handle = getattr(unit, '_handle', None)
        if handle is None:  # a unit without parameters of its own
            continue
        flat = handle.flat_param
        try:
            shapes = tuple(torch.Size(s) for s in flat._shapes)
            names = tuple(flat._fqns)
            infos = flat._shard_param_infos
            use_orig = handle._use_orig_params
            group = (handle.process_group
                     if handle.uses_sharded_strategy else None)
        except AttributeError as exc:
            raise RuntimeError(
                f'mmgc cannot read the FSDP layout of torch '
                f'{torch.__version__} ({exc}); GC would be off for the '
                'sharded parameters. Use torch FSDP2 (fully_shard), or a '
                'torch version from 2.1 to 2.14.') from exc
        if use_orig:
            for i, (param, info) in enumerate(zip(flat._params, infos)):
                pieces = (((0, 0, info.numel_in_shard,
                            info.intra_param_start_idx), )
                          if info.in_shard else ())
                found.append(
                    (param, (names[i], ), (shapes[i], ), pieces, group))
        else:
            pieces = tuple((i, info.offset_in_shard, info.numel_in_shard,
                            info.intra_param_start_idx)
                           for i, info in enumerate(infos) if info.in_shard)
            found.append((flat, names, shapes, pieces, group))
    return found
