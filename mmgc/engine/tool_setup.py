"""The setup ``tools/train.py`` and ``tools/test.py`` share.

Both take a config with the same common options (``--work-dir``,
``--cfg-options``, ``--launcher``, ``--local-rank``), load it the same way
(overrides merged, ``work_dir`` from the command line, the config or
``./work_dirs/<config name>``), join a CPU-only torchrun job themselves (see
:mod:`mmgc.engine.cpu_distributed`) and build the Runner the config asks
for. Each tool adds its own options and config changes in between.

Training also gets the hooks that keep runs from losing work or silently
diverging (:func:`add_training_hooks`), and both tools say what they chose
on the main process only (:func:`say`).
"""
import argparse
import os
import os.path as osp

import torch.distributed as dist

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from .cpu_distributed import (CPU_DDP_WRAPPER, init_cpu_process_group,
                              needs_cpu_distributed)

#: mmengine's checkpoint hook, which tools/train.py replaces with
#: AtomicCheckpointHook (same arguments).
_PLAIN_CHECKPOINT_HOOKS = ('CheckpointHook', 'mmengine.CheckpointHook')
#: Hooks tools/train.py adds to every config that lacks them.
TRAINING_HOOKS = ('RandomStateHook', 'OptimizerConsistencyHook')


def tool_parser(description: str,
                config_help: str) -> argparse.ArgumentParser:
    """A tool's parser with its first positional argument, the config."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('config', help=config_help)
    return parser


def add_common_arguments(parser: argparse.ArgumentParser,
                         work_dir_help: str) -> None:
    """``--work-dir``, ``--cfg-options``, ``--launcher``, ``--local-rank``."""
    parser.add_argument('--work-dir', help=work_dir_help)
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, as key=value pairs '
        '(e.g. optim_wrapper.optimizer.lr=0.01); lists: key="[a,b]"')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_tool_args(parser: argparse.ArgumentParser,
                    argv=None) -> argparse.Namespace:
    """Parse, and set LOCAL_RANK from ``--local-rank`` unless the launcher
    (torchrun) already set it."""
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def load_config(args: argparse.Namespace) -> Config:
    """The config with ``--cfg-options`` merged, the launcher, and the work
    dir: command line > config > ./work_dirs/<config name>."""
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        check_option_types(cfg, args.cfg_options)
        cfg.merge_from_dict(args.cfg_options)

    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if osp.exists(cfg.work_dir) and not osp.isdir(cfg.work_dir):
        raise NotADirectoryError(
            f'The work dir {cfg.work_dir} is a file, not a folder: logs and '
            'checkpoints go into a folder. Pass another --work-dir (a '
            'folder that is new or holds a run of this config).')
    return cfg


_MISSING = object()


def _config_value(cfg: Config, key: str):
    """The value at a dotted ``--cfg-options`` key; ``_MISSING`` where the
    config has none (the option adds it) or the path runs through a list."""
    value = cfg
    for part in key.split('.'):
        if not isinstance(value, (Config, dict)):
            return _MISSING
        value = value.get(part, _MISSING)
        if value is _MISSING:
            return _MISSING
    return value


def _kind_of(value) -> str:
    """What an option must be to replace ``value``; '' for anything."""
    if isinstance(value, bool):
        return 'True or False'
    if isinstance(value, (int, float)):
        return 'a number'
    # Lists and strings stay open: many options take either (a metric name
    # or a list of them).
    return ''


def _fits(kind: str, value) -> bool:
    if kind == 'True or False':
        return isinstance(value, bool)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_option_types(cfg: Config, options: dict) -> None:
    """Refuse a ``--cfg-options`` value whose type cannot replace the
    config's: ``train_cfg.max_epochs=abc`` would otherwise fail later, deep
    in mmengine, without naming the option. Only numbers and flags are
    checked: where the config holds anything else, or nothing yet, any value
    is taken (a type name, a path, a list, a new key)."""
    wrong = []
    for key, value in options.items():
        current = _config_value(cfg, key)
        kind = '' if current is _MISSING else _kind_of(current)
        # None switches a setting off (val_interval=None, ...).
        if kind and value is not None and not _fits(kind, value):
            wrong.append(f'{key}={value!r} (the config has {current!r} '
                         f'there: give {kind})')
    if wrong:
        raise ValueError(
            '--cfg-options: wrong type for ' + '; '.join(wrong) +
            '. Numbers are written as digits (max_epochs=12, lr=0.01), '
            'flags as True/False.')


def setup_cpu_distributed(cfg: Config) -> None:
    """Without CUDA, join torchrun's process group and wrap the model in
    CPUDistributedDataParallel: mmengine's init_dist and default DDP wrapper
    need CUDA. Does nothing unless ``--launcher pytorch`` runs on CPUs."""
    if not needs_cpu_distributed(cfg.launcher):
        return
    init_cpu_process_group(cfg.get('env_cfg', {}).get('dist_cfg', {}))
    if cfg.get('model_wrapper_cfg') is None:
        # find_unused_parameters only acts in backward passes, so testing
        # (no gradients) is unaffected by it.
        cfg.model_wrapper_cfg = dict(
            type=CPU_DDP_WRAPPER,
            find_unused_parameters=cfg.get('find_unused_parameters', False))


def say(message: str) -> None:
    """Print on the main process only (torchrun starts one per rank)."""
    if os.environ.get('RANK', '0') == '0':
        print(message, flush=True)


def _hook_type_name(hook_cfg) -> str:
    hook_type = hook_cfg.get('type') if hasattr(hook_cfg, 'get') else None
    return hook_type if isinstance(hook_type, str) else getattr(
        hook_type, '__name__', '')


def add_training_hooks(cfg: Config) -> None:
    """Write checkpoints atomically (AtomicCheckpointHook in place of
    mmengine's CheckpointHook, also where the config relies on the Runner's
    default one), reseed each epoch so that a resumed run is exact
    (RandomStateHook), and check that every rank built the same optimizer
    (OptimizerConsistencyHook). Hooks the config already names are kept."""
    if cfg.get('default_hooks') is None:
        cfg.default_hooks = dict()
    if 'checkpoint' not in cfg.default_hooks:
        # The Runner's default, written atomically.
        cfg.default_hooks.checkpoint = dict(type='AtomicCheckpointHook',
                                            interval=1)
    else:
        checkpoint = cfg.default_hooks.checkpoint
        if (checkpoint is not None
                and _hook_type_name(checkpoint) in _PLAIN_CHECKPOINT_HOOKS):
            checkpoint.type = 'AtomicCheckpointHook'
    custom_hooks = list(cfg.get('custom_hooks') or [])
    present = {_hook_type_name(hook) for hook in custom_hooks}
    custom_hooks += [dict(type=name) for name in TRAINING_HOOKS
                     if name not in present]
    cfg.custom_hooks = custom_hooks


def build_runner(cfg: Config) -> Runner:
    """mmengine's Runner, or the registered runner ``runner_type`` names."""
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)


def finish_distributed() -> None:
    """End a distributed run cleanly: every rank waits for the others, then
    leaves the process group. Exiting with the group alive can abort a
    gloo process at interpreter exit after its work is done."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
