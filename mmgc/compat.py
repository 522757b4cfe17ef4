"""Let mmengine 0.10.x resume its own checkpoints on torch >= 2.6.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; since torch 2.6
that means ``weights_only=True``, and a Runner checkpoint holds a few objects
besides tensors (the message hub's ``HistoryBuffer``s with their NumPy arrays
and bound statistics methods), so resuming fails with an UnpicklingError.

Rather than turning the safe unpickler off, mmgc allow-lists exactly the
types mmengine writes. ``getattr`` is the one callable a checkpoint needs (it
stores ``HistoryBuffer.min`` etc. as ``getattr(HistoryBuffer, 'min')``); it is
replaced by a version that resolves only methods of ``HistoryBuffer``.
"""
import pickle

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer

__all__ = ['MMENGINE_CHECKPOINT_GLOBALS', 'allow_mmengine_checkpoints']


def _history_buffer_method(owner, name):
    """``getattr`` restricted to the statistics methods of HistoryBuffer."""
    attribute = HistoryBuffer.__dict__.get(name) if owner is HistoryBuffer \
        else None
    if not callable(attribute) or name.startswith('_'):
        raise pickle.UnpicklingError(
            f'Refusing getattr({owner!r}, {name!r}) while loading a '
            'checkpoint: only methods of mmengine HistoryBuffer are allowed. '
            'If this file comes from a source you trust, load it with '
            'torch.load(..., weights_only=False).')
    return attribute


def _numpy_globals():
    multiarray = np._core.multiarray if hasattr(np, '_core') \
        else np.core.multiarray
    dtype_classes = [
        getattr(np.dtypes, name) for name in dir(np.dtypes)
        if name.endswith('DType')
    ]
    return [np.ndarray, np.dtype, multiarray._reconstruct, multiarray.scalar
            ] + dtype_classes


#: Everything a checkpoint written by mmengine's Runner needs besides
#: tensors and plain containers.
MMENGINE_CHECKPOINT_GLOBALS = [HistoryBuffer] + _numpy_globals() + [
    (_history_buffer_method, 'builtins.getattr')
]


def allow_mmengine_checkpoints() -> None:
    """Allow-list the types of mmengine checkpoints for ``torch.load``.

    Idempotent; called by ``import mmgc``. A no-op on torch versions without
    the weights-only unpickler's allow-list.
    """
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is not None:
        add_safe_globals(MMENGINE_CHECKPOINT_GLOBALS)
