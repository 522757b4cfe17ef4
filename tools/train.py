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
"""
import argparse
import os
import os.path as osp
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# Run from a source checkout without installing mmgc.
sys.path.insert(0, str(REPO_ROOT))

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import RUNNERS  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import mmgc  # noqa: E402,F401  (registers mmgc's modules)
from mmgc.engine.cpu_distributed import (  # noqa: E402
    CPU_DDP_WRAPPER, init_cpu_process_group, needs_cpu_distributed)
from mmgc.datasets.checks import check_dataset_files  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
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
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


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
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    # work_dir: command line > config > ./work_dirs/<config name>
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

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

    if needs_cpu_distributed(args.launcher):
        # mmengine's init_dist and default DDP wrapper need CUDA.
        init_cpu_process_group(cfg.get('env_cfg', {}).get('dist_cfg', {}))
        if cfg.get('model_wrapper_cfg') is None:
            cfg.model_wrapper_cfg = dict(
                type=CPU_DDP_WRAPPER,
                find_unused_parameters=cfg.get('find_unused_parameters',
                                               False))
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = setup_cfg(args)
    check_optimizer_type(cfg)
    check_dataset_files(cfg, splits=('train', 'val'))

    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    runner.train()


if __name__ == '__main__':
    main()
