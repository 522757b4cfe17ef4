"""Everything that differs between the library versions mmgc supports.

mmgc runs in the environments its users already have: Python 3.8-3.12,
torch 2.0-2.14, numpy 1.x and 2.x, mmengine 0.7.1-0.10.7. Private torch APIs
and version-dependent behaviour are reached only through this module, so a
new torch release means one place to look at.

* :func:`torch_version_at_least`, :data:`TORCH_VERSION`;
* arithmetic of torch's own Adam/AdamW/RAdam kernels
  (:data:`TORCH_ADAM_STYLE`), so that mmgc's GC optimizers with
  ``use_gc=False`` are bit-identical to the installed torch, not to one
  release;
* constructor options of torch.optim classes (:func:`init_torch_optimizer`,
  :func:`check_torch_options`), with the release that added each option;
* torch.optim internals: the foreach default, the step-hook wrapper;
* ``tree_leaves`` (absent from torch 2.0/2.1);
* resuming mmengine checkpoints on torch >= 2.6
  (:func:`allow_mmengine_checkpoints`);
* the mmdet release that the ReID configs need (:func:`mmdet_reid_problem`).
"""
import importlib
import importlib.util
import inspect
import math
import pickle
import re
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

import numpy as np
import torch
from torch import Tensor

__all__ = [
    'TORCH_VERSION', 'torch_version_at_least', 'TorchAdamStyle',
    'TORCH_ADAM_STYLE', 'init_torch_optimizer', 'check_torch_options',
    'default_to_foreach', 'unhooked_step', 'init_step_hooks',
    'mmengine_has_strategies', 'tree_leaves',
    'MMENGINE_CHECKPOINT_GLOBALS', 'allow_mmengine_checkpoints'
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
    try:
        from torch.optim.optimizer import _default_to_fused_or_foreach
    except ImportError:  # private; gone in some future torch
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
    from collections import OrderedDict
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
    from torch.utils import _pytree
    if hasattr(_pytree, 'tree_leaves'):
        return _pytree.tree_leaves(tree)
    return _pytree.tree_flatten(tree)[0]


# --------------------------------------------------------------------------
# mmengine features
# --------------------------------------------------------------------------
def mmengine_has_strategies() -> bool:
    """Whether the installed mmengine has FlexibleRunner and its training
    strategies (FSDP, DeepSpeed), added in mmengine 0.8."""
    from mmengine import registry
    return hasattr(registry, 'STRATEGIES')


# --------------------------------------------------------------------------
# mmdet features
# --------------------------------------------------------------------------
#: The first mmdet release with ReID models: ``BaseReID``, ``TripletLoss``
#: and ``ReIDDataset`` came with its tracking models in 3.1.0.
MMDET_REID_SINCE = '3.1'


def installed_version(package: str) -> Optional[str]:
    """The version of an installed package, or None when it is not
    installed. Reads the package metadata, so the package is not imported
    (mmdet checks its mmcv on import); falls back to ``__version__`` for a
    package that is importable without metadata (a source tree on
    PYTHONPATH)."""
    from importlib import metadata
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        if importlib.util.find_spec(package) is None:
            return None
        return importlib.import_module(package).__version__


def mmdet_reid_problem(mmdet_version: Optional[str]) -> Optional[str]:
    """Why mmgc's ReID cannot run with this mmdet version (None when it
    can): the message a user gets on importing :mod:`mmgc.reid`."""
    fix = (f"Install a release that has them: pip install 'mmdet>="
           f"{MMDET_REID_SINCE},<3.4' (mmcv 2.0/2.1 keep working); the "
           'detection and classification configs run on mmdet 3.0 too.')
    if mmdet_version is None:
        return (f"mmgc's ReID builds on mmdet's ReID models, and mmdet is not "
                f'installed. {fix}')
    if _parse_version(mmdet_version) < _parse_version(MMDET_REID_SINCE):
        return (f"mmgc's ReID needs mmdet >= {MMDET_REID_SINCE}: the "
                f'installed mmdet {mmdet_version} has no ReID models '
                '(BaseReID, TripletLoss and ReIDDataset came with mmdet '
                f'{MMDET_REID_SINCE}). {fix}')
    return None


# --------------------------------------------------------------------------
# Resuming mmengine checkpoints on torch >= 2.6
# --------------------------------------------------------------------------
# mmengine 0.10.x calls ``torch.load`` without ``weights_only``; since torch
# 2.6 that means ``weights_only=True``, and a Runner checkpoint holds a few
# objects besides tensors (the message hub's ``HistoryBuffer``s with their
# NumPy arrays and bound statistics methods), so resuming fails with an
# UnpicklingError. Rather than turning the safe unpickler off, mmgc
# allow-lists exactly the types mmengine writes. ``getattr`` is the one
# callable a checkpoint needs (``HistoryBuffer.min`` is stored as
# ``getattr(HistoryBuffer, 'min')``); it is replaced by a version that
# resolves only methods of ``HistoryBuffer``.
def _history_buffer_class():
    from mmengine.logging.history_buffer import HistoryBuffer
    return HistoryBuffer


def _history_buffer_method(owner, name):
    """``getattr`` restricted to the statistics methods of HistoryBuffer."""
    history_buffer = _history_buffer_class()
    attribute = history_buffer.__dict__.get(name) \
        if owner is history_buffer else None
    if not callable(attribute) or name.startswith('_'):
        raise pickle.UnpicklingError(
            f'Refusing getattr({owner!r}, {name!r}) while loading a '
            'checkpoint: only methods of mmengine HistoryBuffer are allowed. '
            'If this file comes from a source you trust, load it with '
            'torch.load(..., weights_only=False).')
    return attribute


def _numpy_globals() -> list:
    # numpy 2 moved numpy.core to numpy._core; numpy 1.26 has a numpy._core
    # that does not import its submodules, so go by the version.
    if int(np.__version__.split('.')[0]) >= 2:
        from numpy._core import multiarray
    else:
        from numpy.core import multiarray
    # The dtype classes (``numpy.dtypes.Float64DType``...) a pickled dtype
    # names; ``numpy.dtypes`` only exists from numpy 1.25, the classes
    # themselves in every supported numpy.
    dtype_classes = {type(np.dtype(code)) for code in np.typecodes['All']}
    return [np.ndarray, np.dtype, multiarray._reconstruct, multiarray.scalar
            ] + sorted(dtype_classes, key=lambda cls: cls.__name__)


def mmengine_checkpoint_globals() -> list:
    """Everything a checkpoint written by mmengine's Runner needs besides
    tensors and plain containers."""
    return [_history_buffer_class()] + _numpy_globals() + [
        (_history_buffer_method, 'builtins.getattr')
    ]


MMENGINE_CHECKPOINT_GLOBALS = mmengine_checkpoint_globals()


def allow_mmengine_checkpoints() -> None:
    """Allow-list the types of mmengine checkpoints for ``torch.load``.

    Idempotent; called by ``import mmgc``. A no-op before torch 2.6, whose
    ``torch.load`` does not default to the weights-only unpickler (and whose
    allow-list does not take the ``(function, name)`` form used here).
    """
    if torch_version_at_least('2.6'):
        torch.serialization.add_safe_globals(MMENGINE_CHECKPOINT_GLOBALS)
