"""Train a detector (or any mmengine model) from a config, mmdet-style.

Usage:
    python tools/train.py CONFIG [--work-dir DIR] [--amp] [--auto-scale-lr]
        [--resume [CHECKPOINT]] [--cfg-options KEY=VALUE ...]
        [--launcher {none,pytorch,slurm,mpi}]

Multi-GPU / multi-node: tools/dist_train.sh (torchrun) or
tools/slurm_train.sh. On machines without CUDA, torchrun jobs need
``--cfg-options env_cfg.dist_cfg.backend=gloo``.

This script imports mmgc itself, so configs without ``custom_imports`` can
still use mmgc's optimizers. Before anything is built it checks that the
optimizer type exists and that the dataset files are where the config says.
The setup it shares with tools/test.py (common options, config loading,
CPU-only torchrun, the Runner) is in :mod:`mmgc.engine.tool_setup`.
"""
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# Run from a source checkout without installing mmgc.
sys.path.insert(0, str(REPO_ROOT))

from mmengine.config import Config  # noqa: E402

import mmgc  # noqa: E402  (registers mmgc's modules)
from mmgc.datasets.checks import check_dataset_files  # noqa: E402
from mmgc.engine.tool_setup import (  # noqa: E402
    add_common_arguments, build_runner, load_config, parse_tool_args,
    setup_cpu_distributed, tool_parser)


def parse_args(argv=None):
    parser = tool_parser('Train a detector', 'train config file path')
    add_common_arguments(parser, 'the dir to save logs and models')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by the actual batch size against '
        'auto_scale_lr.base_batch_size of the config')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint; without a path, resume from the '
        'latest checkpoint in the work dir')
    return parse_tool_args(parser, argv)


def mmgc_optimizer_names():
    """The optimizer names mmgc registers, for error messages."""
    names = getattr(mmgc, 'MMGC_OPTIMIZERS', None)
    if names:
        return tuple(names)
    from mmengine.registry import OPTIMIZERS
    return tuple(
        sorted(name for name, cls in OPTIMIZERS.module_dict.items()
               if getattr(cls, '__module__', '').startswith('mmgc')))


def check_optimizer_type(cfg: Config) -> None:
    """Fail early, listing mmgc's optimizers, if the optimizer is unknown."""
    optimizer_cfg = cfg.get('optim_wrapper', {}).get('optimizer')
    if not optimizer_cfg or not isinstance(optimizer_cfg.get('type'), str):
        return
    from mmengine.registry import OPTIMIZERS, DefaultScope
    name = optimizer_cfg['type']
    scope = cfg.get('default_scope')
    with DefaultScope.overwrite_default_scope(scope):
        found = OPTIMIZERS.get(name)
    if found is None:
        raise KeyError(
            f'Unknown optimizer type {name!r} in optim_wrapper.optimizer of '
            f'{cfg.filename}. mmgc registers: '
            f'{", ".join(mmgc_optimizer_names())}; every torch.optim '
            'optimizer (SGD, Adam, AdamW, ...) works too. Names are '
            'case-sensitive.')


def setup_cfg(args) -> Config:
    cfg = load_config(args)

    if args.amp:
        optim_wrapper = cfg.optim_wrapper.type
        if optim_wrapper == 'AmpOptimWrapper':
            print('AMP training is already enabled in the config.')
        elif optim_wrapper != 'OptimWrapper':
            raise ValueError(
                '--amp turns OptimWrapper into AmpOptimWrapper, but the '
                f'config uses {optim_wrapper}; set its AMP option in the '
                'config instead.')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'

    if args.auto_scale_lr:
        if ('auto_scale_lr' in cfg and 'enable' in cfg.auto_scale_lr
                and 'base_batch_size' in cfg.auto_scale_lr):
            cfg.auto_scale_lr.enable = True
        else:
            raise RuntimeError(
                '--auto-scale-lr needs auto_scale_lr=dict(enable=False, '
                'base_batch_size=N) in the config, where N is the total batch '
                'size the learning rate was tuned for.')

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    setup_cpu_distributed(cfg)
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = setup_cfg(args)
    check_optimizer_type(cfg)
    check_dataset_files(cfg, splits=('train', 'val'))

    build_runner(cfg).train()


if __name__ == '__main__':
    main()
