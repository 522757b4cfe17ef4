"""What mmgc's tools and the Runner need from the installed stack.

mmgc runs in the environments its users already have: Python 3.8-3.12,
torch 2.0-2.14, numpy 1.x and 2.x, mmengine 0.7.1-0.10.7, mmdet 3.0-3.3.
This module holds the stack probes and fixes that concern training runs,
not the optimizers (those are in :mod:`mmgc.torch_compat`):

* :func:`mmengine_has_strategies` (FlexibleRunner, mmengine >= 0.8) and
  :func:`mmengine_deepspeed_problem` (whether its DeepSpeedStrategy can be
  imported here);
* :func:`installed_version` and the mmdet release that the ReID configs need
  (:func:`mmdet_reid_problem`);
* resuming mmengine checkpoints on torch >= 2.6
  (:func:`allow_mmengine_checkpoints`).

Nothing here runs at import: the checkpoint types are looked up when the
allow-list is installed.
"""
import importlib
import importlib.util
import pickle
import re
from typing import Optional, Tuple

import numpy as np
import torch

from mmgc.torch_compat import torch_version_at_least

__all__ = [
    'mmengine_has_strategies', 'mmengine_deepspeed_problem',
    'installed_version', 'mmdet_reid_problem',
    'mmengine_checkpoint_globals', 'allow_mmengine_checkpoints'
]


def _parse_version(version: str) -> Tuple[int, int]:
    match = re.match(r'(\d+)\.(\d+)', version)
    if match is None:
        raise ValueError(f'cannot read a version number from {version!r}')
    return int(match.group(1)), int(match.group(2))


# --------------------------------------------------------------------------
# mmengine features
# --------------------------------------------------------------------------
def mmengine_has_strategies() -> bool:
    """Whether the installed mmengine has FlexibleRunner and its training
    strategies (FSDP, DeepSpeed), added in mmengine 0.8."""
    from mmengine import registry
    return hasattr(registry, 'STRATEGIES')


def mmengine_deepspeed_problem() -> Optional[str]:
    """Why mmengine's ``DeepSpeedStrategy`` cannot be imported here (None
    when it can). mmengine 0.8.0 defines it only when DeepSpeed is
    installed; later releases always define it and need DeepSpeed only
    when a strategy is built."""
    try:
        from mmengine._strategy import DeepSpeedStrategy  # noqa: F401
    except ImportError as error:
        return (f'mmengine {installed_version("mmengine")} has no '
                f'DeepSpeedStrategy here ({error}); it defines it only when '
                "DeepSpeed is installed: DS_BUILD_OPS=0 pip install "
                "'mmgc[deepspeed]'")
    return None


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


_allowed = False


def allow_mmengine_checkpoints() -> None:
    """Allow-list the types of mmengine checkpoints for ``torch.load``.

    Called by ``import mmgc``; the list is built and installed on the first
    call only. A no-op before torch 2.6, whose ``torch.load`` does not default
    to the weights-only unpickler (and whose allow-list does not take the
    ``(function, name)`` form used here).
    """
    global _allowed
    if _allowed or not torch_version_at_least('2.6'):
        return
    torch.serialization.add_safe_globals(mmengine_checkpoint_globals())
    _allowed = True
