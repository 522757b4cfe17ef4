"""Imported by the training processes that tests/test_checkpoints.py starts
(through the config's ``custom_imports``), to stop them at a chosen moment
so that the test can kill them there.

* ``MMGC_TEST_STALL_WRITE=<name>``: a slow disk. The write of a file whose
  name contains ``<name>`` puts the first half of the bytes (which
  ``torch.save`` really produced) on disk, then hangs; the process is killed
  while saving.
* ``MMGC_TEST_PAUSE_AT_EPOCH=<e>``: ``PauseAtEpochHook`` hangs before epoch
  ``e`` (0-based) starts, after the previous epoch's checkpoint and
  validation.

Either one first creates the file ``MMGC_TEST_MARKER``, for the test to wait
on.
"""
import os
import time
from pathlib import Path

from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

_STALL_ON = os.environ.get('MMGC_TEST_STALL_WRITE')
_PAUSE_AT = os.environ.get('MMGC_TEST_PAUSE_AT_EPOCH')
_MARKER = os.environ.get('MMGC_TEST_MARKER')


def _hang(reason: str) -> None:
    Path(_MARKER).write_text(reason)
    while True:
        time.sleep(60)


if _STALL_ON:
    _put = LocalBackend.put

    def _slow_put(self, obj, filepath):
        if _STALL_ON not in os.path.basename(str(filepath)):
            return _put(self, obj, filepath)
        os.makedirs(os.path.dirname(str(filepath)) or '.', exist_ok=True)
        with open(filepath, 'wb') as f:
            f.write(obj[:len(obj) // 2])
            f.flush()
            os.fsync(f.fileno())
        _hang(f'stalled writing {filepath}')

    LocalBackend.put = _slow_put


@HOOKS.register_module()
class PauseAtEpochHook(Hook):
    """Hangs before epoch ``MMGC_TEST_PAUSE_AT_EPOCH`` (see above); does
    nothing without it."""

    priority = 'LOWEST'

    def before_train_epoch(self, runner) -> None:
        if _PAUSE_AT is not None and runner.epoch == int(_PAUSE_AT):
            _hang(f'paused before epoch {runner.epoch}')
