"""Checkpoints that survive a killed process, and clear errors for bad ones.

* :class:`AtomicCheckpointHook`: mmengine's ``CheckpointHook``, but a new
  checkpoint is written to ``<name>.partial`` and renamed into place once it
  is complete (atomic on POSIX), ``last_checkpoint`` is rewritten only after
  the rename, and old checkpoints (``max_keep_ckpts``) are removed only
  then. mmengine's hook removes the previous checkpoint first and writes the
  new one in place, so a run killed while saving can be left with nothing to
  resume from.
* :func:`check_checkpoint_file`: what is wrong with a file given as a
  checkpoint (missing, empty, truncated, not written by ``torch.save``),
  named in the error with the fix, instead of torch's
  ``PytorchStreamReader failed reading zip archive`` or a bare ``EOFError``.
* :func:`find_resumable_checkpoint`: the newest complete, loadable
  checkpoint of a work dir, and what was skipped on the way (what
  ``tools/train.py --resume`` resumes from).
* :class:`StrictLoadHook`: a loaded checkpoint must fit the model (no
  missing, unexpected or size-mismatched keys), else an error that names
  the file and the first keys (what ``tools/test.py`` loads with, and what
  ``tools/train.py --resume`` resumes with).
* :class:`ResumedOptimizerCheckHook`: a resume whose config changed the GC
  options is refused (the checkpoint's param groups would win without a
  word); other changed hyperparameters are named in a warning.
* :class:`DeletePreviousRunHook`: ``tools/train.py --overwrite`` deletes
  the earlier run's checkpoints only once the new run is built.
"""
import glob
import inspect
import os
import os.path as osp
import pickle
import re
import zipfile
from collections import deque
from typing import (Iterable, List, NamedTuple, Optional, Sequence,
                    Tuple)

import torch
from mmengine.config import Config
from mmengine.dist import is_main_process
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import CheckpointHook, Hook
from mmengine.model import is_model_wrapper

from mmgc.config_keys import gc_settings
from mmgc.optim._validation import GC_OPTION_NAMES, same_option

__all__ = [
    'AtomicCheckpointHook', 'CheckpointFileError', 'CheckpointMismatchError',
    'CheckpointProblem', 'DeletePreviousRunHook', 'ResumedOptimizerCheckHook',
    'ResumeChoice', 'StrictLoadHook', 'check_checkpoint_file',
    'checkpoint_file_problem', 'find_resumable_checkpoint', 'is_inside',
    'run_checkpoint_files', 'PARTIAL_SUFFIX'
]

#: What a checkpoint being written is called until it is complete.
PARTIAL_SUFFIX = '.partial'
#: The names mmengine's CheckpointHook gives checkpoints by default.
DEFAULT_TEMPLATES = ('epoch_{}.pth', 'iter_{}.pth')

_ZIP_MAGIC = b'PK\x03\x04'
# torch.save's format before torch 1.6 starts with this number, pickled.
_TORCH_LEGACY_MAGIC = 0x1950a86a20f9469cfc6c
_LOAD_TAKES_MMAP = 'mmap' in inspect.signature(torch.load).parameters


class CheckpointFileError(RuntimeError):
    """A file given as a checkpoint cannot be one: empty, truncated, or not
    written by ``torch.save``. The message names the file and the fix."""


class CheckpointMismatchError(RuntimeError):
    """A checkpoint's weights do not fit the model it is loaded into."""


# ---------------------------------------------------------------------------
# What is wrong with a checkpoint file


class CheckpointProblem(NamedTuple):
    """What is wrong with a checkpoint file."""
    #: 'incomplete' (empty, truncated: a save was interrupted), 'foreign'
    #: (not a checkpoint at all), 'unloadable' (torch.load fails on it) or
    #: 'unusable' (loads, but holds no training state to resume).
    kind: str
    text: str


class _NoGlobals(pickle.Unpickler):
    """Reads the first object of a pickle without importing anything."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f'{module}.{name}')


def _describe_start(head: bytes) -> str:
    # The head may end inside a multi-byte character.
    text = head.decode('utf-8', 'ignore')
    if len(text) >= len(head) - 3 and all(c.isprintable() or c in '\r\n\t'
                                           for c in text):
        return (f'it is text (it starts with {text[:24]!r}): a config, log '
                'or other text file')
    return f'it starts with the bytes {head[:8]!r}'


def checkpoint_file_problem(path: str) -> Optional[CheckpointProblem]:
    """What is wrong with ``path`` as a file ``torch.save`` wrote, judged
    from its structure without unpickling it; None when nothing is.

    A ``torch.save`` file is a zip archive whose central directory is
    written last, so a file cut short by a killed process has none.
    """
    size = os.path.getsize(path)
    if size == 0:
        return CheckpointProblem('incomplete', 'is empty (0 bytes)')
    with open(path, 'rb') as f:
        head = f.read(64)
    if head.startswith(_ZIP_MAGIC):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError, EOFError, ValueError):
            return CheckpointProblem(
                'incomplete',
                f'is truncated or corrupt: {size} bytes that begin like a '
                'torch.save file but lack the end of its zip archive')
        if not any(n == 'data.pkl' or n.endswith('/data.pkl') for n in names):
            return CheckpointProblem(
                'foreign', 'is a zip archive, but not one torch.save wrote '
                '(it holds no data.pkl)')
        return None
    if head[:1] == b'\x80':  # a pickle: torch.save's legacy format?
        with open(path, 'rb') as f:
            try:
                first = _NoGlobals(f).load()
            except EOFError:
                return CheckpointProblem('incomplete',
                                f'is truncated: {size} bytes of a pickle')
            except Exception:  # noqa: BLE001  (any unpickling failure)
                first = None
        if first != _TORCH_LEGACY_MAGIC:
            return CheckpointProblem(
                'foreign', 'is a pickle file, not a checkpoint written by '
                'torch.save')
        return None
    return CheckpointProblem(
        'foreign', 'is not a checkpoint written by torch.save (those are zip '
        f'archives that start with "PK"); {_describe_start(head)}')


#: The fix to suggest, by what the file was given for and what is wrong.
_FIXES = {
    ('resume', 'incomplete'):
    'A file like this is left when training is killed while it saves a '
    'checkpoint. Delete it and run tools/train.py CONFIG --resume without '
    'a path: it resumes from the newest complete checkpoint of the work '
    'dir.',
    ('resume', 'foreign'):
    '--resume takes a checkpoint that tools/train.py wrote (epoch_N.pth or '
    'iter_N.pth in the work dir), or no path at all to resume from the '
    'newest complete one.',
    ('resume', 'unloadable'):
    'Resume from another checkpoint of the run, or run tools/train.py CONFIG '
    '--resume without a path to resume from the newest loadable one.',
    ('resume', 'unusable'):
    'To start a new run from these weights, use --cfg-options '
    'load_from=FILE instead of --resume.',
    ('load_from', 'incomplete'):
    'If it was being written when a run was killed, load the previous '
    'checkpoint of that run (epoch_N.pth) instead.',
    ('load_from', 'foreign'):
    'load_from takes a checkpoint written by torch.save: an epoch_N.pth of '
    'tools/train.py or a released model file (.pth).',
    ('test', 'incomplete'):
    'If it was being written when training was killed, evaluate the '
    'previous checkpoint of that run (epoch_N.pth) instead.',
    ('test', 'foreign'):
    'tools/test.py CONFIG CHECKPOINT takes the config first and then a '
    'checkpoint written by torch.save, such as an epoch_N.pth of '
    'tools/train.py.',
}
_MISSING = {
    'resume': 'Run tools/train.py CONFIG --resume without a path to resume '
    'from the newest complete checkpoint of the work dir.',
    'load_from': 'Check the path of load_from.',
    'test': 'tools/train.py writes epoch_N.pth files (and a last_checkpoint '
    'pointer) into its work dir.',
}
_PURPOSES = {'resume': 'given to --resume', 'load_from': 'given as load_from',
             'test': 'given to tools/test.py'}


def _is_local(path: str) -> bool:
    return '://' not in str(path)


def _load_for_inspection(path: str):
    """The checkpoint's Python objects; tensors are memory-mapped where torch
    can, so nothing large is read."""
    kwargs = dict(map_location='cpu')
    with open(path, 'rb') as f:
        zip_format = f.read(4) == _ZIP_MAGIC
    if _LOAD_TAKES_MMAP and zip_format:  # torch maps only its zip format
        kwargs['mmap'] = True
    return torch.load(path, **kwargs)


def _resume_meta(path: str) -> Tuple[Optional[dict], Optional[CheckpointProblem]]:
    """``(meta, None)`` for a checkpoint a run can resume from, else
    ``(None, problem)``."""
    try:
        checkpoint = _load_for_inspection(path)
    except Exception as error:  # noqa: BLE001  (report, never crash here)
        first_line = str(error).strip().splitlines()[0] if str(
            error).strip() else type(error).__name__
        kind = ('incomplete' if isinstance(error, (EOFError, RuntimeError))
                else 'unloadable')
        return None, CheckpointProblem(
            kind, f'cannot be loaded ({type(error).__name__}: '
            f'{first_line})')
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    if not isinstance(meta, dict) or 'state_dict' not in checkpoint or not {
            'epoch', 'iter'} <= set(meta):
        return None, CheckpointProblem(
            'unusable', 'holds no training state (meta with epoch and iter, '
            'state_dict): it is a weights file, not a checkpoint of a '
            'training run')
    return meta, None


def check_checkpoint_file(path: str, purpose: str) -> Optional[dict]:
    """Raise :class:`CheckpointFileError` (``FileNotFoundError`` when it
    does not exist) if ``path`` cannot be the checkpoint it is given as.

    Args:
        path: The file. Remote paths (``s3://``, ``https://``, ...) and
            directories (sharded checkpoints) are left to mmengine.
        purpose: ``'resume'``, ``'load_from'`` or ``'test'``; it chooses the
            fix the message suggests. For ``'resume'`` the file is also
            loaded (memory-mapped) to check that it holds a training state.

    Returns:
        For ``'resume'``, the checkpoint's ``meta`` (epoch, iter, ...).
    """
    if purpose not in _PURPOSES:
        raise ValueError(f'purpose must be one of {sorted(_PURPOSES)}, got '
                         f'{purpose!r}')
    if not _is_local(path):
        return None
    path = osp.expanduser(str(path))
    if not osp.exists(path):
        raise FileNotFoundError(
            f'Checkpoint {path} ({_PURPOSES[purpose]}) does not exist. '
            f'{_MISSING[purpose]}')
    if osp.isdir(path):
        return None
    problem = checkpoint_file_problem(path)
    meta = None
    if problem is None and purpose == 'resume':
        meta, problem = _resume_meta(path)
    if problem is not None:
        raise CheckpointFileError(
            f'Checkpoint {path} ({_PURPOSES[purpose]}) {problem.text}. '
            f'{_FIXES[(purpose, problem.kind)]}')
    return meta


# ---------------------------------------------------------------------------
# Which checkpoint of a work dir to resume from


def _template_pattern(template: str) -> 're.Pattern':
    return re.compile('^' + re.escape(template).replace(r'\{\}', r'(\d+)') +
                      '$')


def _last_checkpoint_target(work_dir: str) -> Optional[str]:
    pointer = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(pointer):
        return None
    with open(pointer) as f:
        target = f.read().strip()
    return target or None


def run_checkpoint_files(work_dir: str,
                         templates: Sequence[str] = DEFAULT_TEMPLATES,
                         extra_dirs: Iterable[str] = ()) -> List[str]:
    """The checkpoints a training run left in ``work_dir`` (and
    ``extra_dirs``), newest first: files named by the checkpoint hook's
    templates (complete or not) and the partial files of interrupted saves.
    """
    patterns = [_template_pattern(t) for t in templates]
    dirs = [work_dir, *extra_dirs]
    target = _last_checkpoint_target(work_dir)
    if target is not None and _is_local(target):
        dirs.append(osp.dirname(target) or work_dir)
    found = set()
    for folder in dict.fromkeys(osp.abspath(d) for d in dirs):
        if not osp.isdir(folder):
            continue
        for name in os.listdir(folder):
            base = name[:-len(PARTIAL_SUFFIX)] if name.endswith(
                PARTIAL_SUFFIX) else name
            if any(p.match(base) for p in patterns):
                found.add(osp.join(folder, name))
    return sorted(found, key=_newest_first)


def _step_of(path: str) -> int:
    numbers = re.findall(r'\d+', osp.basename(path))
    return int(numbers[-1]) if numbers else -1


def _newest_first(path: str):
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError:
        mtime = 0
    return (-mtime, -_step_of(path), path)


class ResumeChoice(NamedTuple):
    """What :func:`find_resumable_checkpoint` found."""
    #: The checkpoint to resume from; None when there is none.
    path: Optional[str]
    #: Its ``meta`` (``epoch``, ``iter``, ...), or None.
    meta: Optional[dict]
    #: ``(file, why)`` for every newer file passed over.
    skipped: List[Tuple[str, str]]


def find_resumable_checkpoint(
        work_dir: str,
        templates: Sequence[str] = DEFAULT_TEMPLATES,
        extra_dirs: Iterable[str] = ()) -> ResumeChoice:
    """The newest checkpoint of the run in ``work_dir`` that is complete
    and loadable, and the newer files passed over with the reason.

    Newest means last written (modification time, then step number): after a
    resume from an older checkpoint the files written since are the run's
    state. ``last_checkpoint`` is only a hint; a checkpoint it does not name
    is still found, and a file it names that no longer exists is reported.
    """
    skipped = []
    target = _last_checkpoint_target(work_dir)
    if target is not None and _is_local(target) and not osp.exists(target):
        skipped.append((osp.join(work_dir, 'last_checkpoint'),
                        f'names {target}, which does not exist'))
    for path in run_checkpoint_files(work_dir, templates, extra_dirs):
        if path.endswith(PARTIAL_SUFFIX):
            skipped.append((path, 'is partial: its save never completed'))
            continue
        problem = checkpoint_file_problem(path)
        meta = None
        if problem is None:
            meta, problem = _resume_meta(path)
        if problem is None:
            return ResumeChoice(path, meta, skipped)
        skipped.append((path, problem.text))
    return ResumeChoice(None, None, skipped)


# ---------------------------------------------------------------------------
# Writing checkpoints atomically


def _fsync(path: str) -> None:
    """Flush a file (or a directory entry) to disk; best effort where the
    platform cannot (directories on Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _replace(source: str, destination: str) -> None:
    """Move a finished file into place in one step, durably."""
    _fsync(source)
    os.replace(source, destination)
    _fsync(osp.dirname(osp.abspath(destination)))


def _write_text_atomically(path: str, text: str) -> None:
    partial = path + PARTIAL_SUFFIX
    with open(partial, 'w') as f:
        f.write(text)
    _replace(partial, path)


class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` (same arguments) that never leaves a
    run without a complete checkpoint.

    Each checkpoint is written to ``<name>.partial`` and renamed to its name
    when complete, so ``epoch_N.pth`` is either the whole checkpoint or
    absent. ``last_checkpoint`` names it only after the rename, and the
    checkpoints ``max_keep_ckpts`` retires are deleted only after that. A
    run killed at any moment keeps its previous checkpoint, and
    ``last_checkpoint`` never names a deleted or partial file. Partial files
    of an interrupted save are deleted when training starts again.

    Use it in place of ``CheckpointHook``::

        default_hooks = dict(
            checkpoint=dict(type='AtomicCheckpointHook', interval=1,
                            max_keep_ckpts=1))

    ``tools/train.py`` does this itself for configs that name
    ``CheckpointHook``. Checkpoints on remote storage (``backend_args``) are
    written by mmengine's code, as there is no rename there. The best
    checkpoints of ``save_best`` are written by mmengine's code too.
    """

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if self.max_keep_ckpts > 0 and not hasattr(self, 'keep_ckpt_ids'):
            # mmengine < 0.8 keeps no list of the checkpoints it wrote.
            kept = runner.message_hub.runtime_info.get('keep_ckpt_ids', [])
            self.keep_ckpt_ids = deque(kept, self.max_keep_ckpts)
        if self._writes_atomically() and is_main_process():
            for partial in glob.glob(
                    osp.join(glob.escape(self.out_dir), '*' + PARTIAL_SUFFIX)):
                os.remove(partial)
                runner.logger.warning(
                    f'Deleted {partial}, a checkpoint whose save was '
                    'interrupted.')

    def _writes_atomically(self) -> bool:
        return isinstance(getattr(self, 'file_backend', None), LocalBackend)

    def _save_checkpoint(self, runner) -> None:
        if not self._writes_atomically():
            return super()._save_checkpoint(runner)
        if self.by_epoch:
            step = runner.epoch + 1
            meta = dict(epoch=step, iter=runner.iter)
        else:
            step = runner.iter + 1
            meta = dict(epoch=runner.epoch, iter=step)
        self._save_checkpoint_with_step(runner, step, meta)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        if not self._writes_atomically():
            return super()._save_checkpoint_with_step(runner, step, meta)
        retired = self._keep(runner, step)
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = osp.join(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)

        # Every rank takes part (sharded strategies gather the state); the
        # main process writes the file.
        runner.save_checkpoint(
            self.out_dir,
            filename + PARTIAL_SUFFIX,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        _replace(self.last_ckpt + PARTIAL_SUFFIX, self.last_ckpt)
        _write_text_atomically(
            osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        for old_step in retired:
            old = osp.join(self.out_dir, self.filename_tmpl.format(old_step))
            if osp.isfile(old):
                os.remove(old)

    def _keep(self, runner, step) -> List[int]:
        """Record ``step`` among the kept checkpoints; the steps it retires
        (deleted once the new checkpoint is in place)."""
        if self.max_keep_ckpts <= 0:
            return []
        if self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step:
            return []  # the same checkpoint again (after save_best)
        retired = []
        if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
            retired.append(self.keep_ckpt_ids.popleft())
        self.keep_ckpt_ids.append(step)
        runner.message_hub.update_info('keep_ckpt_ids',
                                       list(self.keep_ckpt_ids))
        return retired


# ---------------------------------------------------------------------------
# Loading strictly


def _unwrapped(model):
    return model.module if is_model_wrapper(model) else model


def _is_sharded(model) -> bool:
    return any('_fsdp_wrapped_module' in name
               for name, _ in model.named_modules())


def _state_dict_of(checkpoint) -> dict:
    state_dict = checkpoint.get('state_dict', checkpoint) if isinstance(
        checkpoint, dict) else checkpoint
    # mmengine's Runner strips the prefix of DDP-wrapped weights when it
    # loads (its revise_keys).
    return {re.sub(r'^module\.', '', k): v for k, v in state_dict.items()}


def _shape(value) -> Optional[tuple]:
    return tuple(value.shape) if hasattr(value, 'shape') else None


def _first(keys: Sequence[str], show: int) -> str:
    listed = ', '.join(keys[:show])
    return listed + (f', ... ({len(keys) - show} more)'
                     if len(keys) > show else '')


class StrictLoadHook(Hook):
    """Refuse a checkpoint whose weights do not fit the model.

    mmengine's Runner loads ``load_from`` non-strictly: keys the model lacks
    or has in another shape are listed in the log and skipped, so a wrong
    checkpoint silently evaluates a mostly untrained model. With this hook a
    missing, unexpected or size-mismatched key is an error naming the
    checkpoint and the first keys of each kind; with ``strict=False`` the
    counts are logged as a warning and loading goes on.
    ``tools/test.py`` adds it (``--non-strict`` for ``strict=False``).

    ``tools/train.py --resume`` adds it too: a resumed run whose model lost
    or reshaped a part would otherwise go on training with that part
    re-initialised.

    Args:
        checkpoint: The file, for the message (the hook checks whatever the
            runner loads).
        strict: Raise (True) or warn (False).
        show: How many keys of each kind the message names.
        fix: What the error suggests (default: what ``tools/test.py``
            offers).
    """

    priority = 'LOWEST'  # see the checkpoint as the other hooks left it

    def __init__(self, checkpoint: Optional[str] = None, strict: bool = True,
                 show: int = 5, fix: Optional[str] = None):
        self.checkpoint = checkpoint
        self.strict = strict
        self.show = show
        self.fix = fix or (
            'Is it a checkpoint of this config? Evaluate it with the config '
            'it was trained with, or pass --non-strict to load the keys that '
            'fit anyway.')

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        model = _unwrapped(runner.model)
        if _is_sharded(model):
            runner.logger.info(
                'StrictLoadHook: the model is sharded, its keys are checked '
                'by the strategy that loads it.')
            return
        expected = {k: _shape(v)
                    for k, v in model.state_dict(keep_vars=True).items()}
        found = _state_dict_of(checkpoint)
        missing = [k for k in expected if k not in found]
        unexpected = [k for k in found if k not in expected]
        resized = [
            f'{k} (checkpoint {list(_shape(found[k]) or ())}, model '
            f'{list(expected[k] or ())})' for k in expected
            if k in found and _shape(found[k]) is not None
            and _shape(found[k]) != expected[k]
        ]
        if not (missing or unexpected or resized):
            return
        source = self.checkpoint or 'The checkpoint'
        counts = (f'{len(missing)} missing keys (in the model, not in the '
                  f'checkpoint), {len(unexpected)} unexpected keys (in the '
                  f'checkpoint, not in the model), {len(resized)} '
                  'size-mismatched keys')
        if not self.strict:
            runner.logger.warning(
                f'{source} does not fit the model: {counts}. Loaded the '
                f'{len(expected) - len(missing) - len(resized)} keys that '
                'fit; the others keep their initial values (non-strict '
                'loading).')
            return
        details = [
            f'{name}: {_first(keys, self.show)}'
            for name, keys in (('missing', missing), ('unexpected',
                                                      unexpected),
                               ('size mismatch', resized)) if keys
        ]
        config = getattr(runner.cfg, 'filename', None)
        model_text = f'the model of {config}' if config else 'the model'
        raise CheckpointMismatchError(
            f'{source} does not fit {model_text}: {counts}. ' +
            '; '.join(details) + '. ' + self.fix)


# ---------------------------------------------------------------------------
# Resuming with a changed config

_REFUSED_FIX = (
    'A resumed run continues with the optimizer of its checkpoint, so these '
    'changes would have no effect. Resume without them, or start a new run '
    'with them from these weights: --cfg-options load_from={source} in '
    'another --work-dir (or with --overwrite).')
#: Group keys that are expected to differ on resume: the parameters, and
#: the learning rate the schedulers move (its base, initial_lr, is compared).
_RESUME_VARYING_KEYS = ('params', 'lr')


def _optimizer_states(checkpoint_optimizer, optim_wrapper):
    """``(name, saved param groups, current param groups)`` per optimizer
    (several for an OptimWrapperDict); empty where the layouts differ (the
    loader then refuses by itself) or the state is sharded."""
    wrappers = getattr(optim_wrapper, 'optim_wrappers', None)
    if wrappers is None:
        wrappers = {'': optim_wrapper}
        checkpoint_optimizer = {'': checkpoint_optimizer}
    found = []
    for name, wrapper in wrappers.items():
        saved = (checkpoint_optimizer or {}).get(name)
        optimizer = getattr(wrapper, 'optimizer', None)
        if (not isinstance(saved, dict) or 'param_groups' not in saved
                or optimizer is None
                or len(saved['param_groups']) != len(optimizer.param_groups)):
            continue
        found.append((name, saved['param_groups'], optimizer.param_groups))
    return found


def _plain(value) -> bool:
    return value is None or isinstance(value, (bool, int, float, str, tuple,
                                               list))


def _group_ranges(indices: List[int]) -> str:
    """'0-3, 7' for [0, 1, 2, 3, 7]."""
    parts, start = [], None
    for i, index in enumerate(indices):
        if start is None:
            start = index
        if i + 1 == len(indices) or indices[i + 1] != index + 1:
            parts.append(str(start) if start == index else
                         f'{start}-{index}')
            start = None
    return ', '.join(parts)


def _changes(saved_groups, current_groups, keys=None):
    """``{(key, saved, current): [group indices]}`` for the keys whose value
    differs between the checkpoint's groups and the config's."""
    changes = {}
    for index, (saved, current) in enumerate(zip(saved_groups,
                                                  current_groups)):
        names = keys if keys is not None else [
            k for k in dict.fromkeys(list(saved) + list(current))
            if k not in _RESUME_VARYING_KEYS and k not in GC_OPTION_NAMES
        ]
        for key in names:
            old, new = saved.get(key, '(not set)'), current.get(
                key, '(not set)')
            if not (_plain(old) and _plain(new)) or same_option(
                    key, old, new):
                continue
            changes.setdefault((key, repr(old), repr(new)),
                               []).append(index)
    return changes


def _describe(changes, optimizer_name: str) -> str:
    where = f'optimizer {optimizer_name!r}, ' if optimizer_name else ''
    return '; '.join(
        f'{key}: {old} in the checkpoint, {new} in the config ({where}param '
        f'group{"s" if len(groups) > 1 else ""} {_group_ranges(groups)})'
        for (key, old, new), groups in changes.items())


def _shown(settings: dict, key: str) -> str:
    return repr(settings[key]) if key in settings else 'not set'


def _saved_config(checkpoint: dict):
    """The config a checkpoint was written with (mmengine's Runner stores
    its text in ``meta['cfg']``); None where it is absent or unreadable."""
    text = (checkpoint.get('meta') or {}).get('cfg')
    if not isinstance(text, str):
        return None
    try:
        return Config.fromstring(text, file_format='.py')
    except Exception:  # noqa: BLE001  (the param groups are checked anyway)
        return None


class ResumedOptimizerCheckHook(Hook):
    """Compare the optimizer of the config with the one a resumed checkpoint
    holds, before the checkpoint replaces it.

    On resume, mmengine loads the checkpoint's param groups over the ones
    the config built, so an option changed in the config (``use_gc=False``
    on the command line, another ``weight_decay``) has no effect and nothing
    says so. A change of what decides GC is refused: the GC options
    (``use_gc``, ``gc_conv_only``, ``gc_loc``) of the param groups, and in
    the config saved with the checkpoint the optimizer's type (``SGD_GC``
    to ``SGD`` switches GC off while the groups look alike), the
    constructor and the GC options of ``paramwise_cfg``
    (:func:`mmgc.config_keys.gc_settings`): a run that is continued must keep the GC it was trained with,
    and a new one with other GC options starts from the weights
    (``load_from``). Other changed hyperparameters (``momentum``, the base
    learning rate ``initial_lr``, ...) are named in a warning that says the
    checkpoint's values are kept. ``tools/train.py --resume`` adds it.

    Args:
        checkpoint: The file, for the message.
    """

    priority = 'LOWEST'

    def __init__(self, checkpoint: Optional[str] = None):
        self.checkpoint = checkpoint

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        optim_wrapper = getattr(runner, 'optim_wrapper', None)
        if not isinstance(checkpoint, dict) or 'optimizer' not in checkpoint:
            return
        source = self.checkpoint or 'the checkpoint'
        saved_cfg = _saved_config(checkpoint)
        if saved_cfg is not None and getattr(runner, 'cfg', None) is not None:
            before, now = gc_settings(saved_cfg), gc_settings(runner.cfg)
            changed = [
                f'{key}: {_shown(before, key)} in the checkpoint, '
                f'{_shown(now, key)} in the config'
                for key in dict.fromkeys(list(before) + list(now))
                if _shown(before, key) != _shown(now, key)
            ]
            if changed:
                raise ValueError(
                    f'Resuming from {source}: the config changes what '
                    f'decides GC ({"; ".join(changed)}). ' + _REFUSED_FIX
                    .format(source=source))
        for name, saved, current in _optimizer_states(
                checkpoint['optimizer'], optim_wrapper):
            gc_changes = _changes(saved, current, GC_OPTION_NAMES)
            if gc_changes:
                raise ValueError(
                    f'Resuming from {source}: the config changes the GC '
                    f'options the run was trained with '
                    f'({_describe(gc_changes, name)}). ' +
                    _REFUSED_FIX.format(source=source))
            other = _changes(saved, current)
            if other:
                runner.logger.warning(
                    f'Resuming from {source}: the config changes '
                    f'{_describe(other, name)}. The checkpoint\'s values '
                    'are kept (mmengine resumes the optimizer as it was '
                    'saved); start a new run from these weights (load_from) '
                    'to train with the new ones.')


# ---------------------------------------------------------------------------
# --overwrite


class DeletePreviousRunHook(Hook):
    """Delete the checkpoints of an earlier run in the work dir once the new
    run is built (config, data, model and optimizer), just before it trains.

    ``tools/train.py --overwrite`` adds it: a new run that fails to start
    (a bad learning rate, a dataset that does not load) leaves the earlier
    run's checkpoints where they were.

    Args:
        work_dir: The work dir; only files inside it are deleted.
        files: The files to delete.
    """

    priority = 'VERY_HIGH'  # before any hook can write a checkpoint

    def __init__(self, work_dir: str, files: Sequence[str]):
        self.work_dir = work_dir
        self.files = list(files)

    def before_train(self, runner) -> None:
        if not is_main_process():
            return
        inside = [f for f in self.files if is_inside(f, self.work_dir)]
        deleted = []
        for path in inside:
            if osp.isfile(path):
                os.remove(path)
                deleted.append(osp.basename(path))
        if deleted:
            # Printed, as tools/train.py prints what it chose: the Runner's
            # logger may be another run's of the same second.
            print(f"--overwrite: deleted the earlier run's checkpoints in "
                  f'{self.work_dir}: {", ".join(deleted)}.', flush=True)


def is_inside(path: str, folder: str) -> bool:
    """Whether ``path`` lies inside ``folder`` (links resolved)."""
    folder = osp.realpath(folder)
    return osp.commonpath([osp.realpath(path), folder]) == folder
