"""Evaluate a trained checkpoint with the config's test evaluator, mmdet-style.

Usage:
    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE.pkl]
        [--show-dir DIR] [--cfg-options KEY=VALUE ...]
        [--launcher {none,pytorch,slurm,mpi}]

Multi-GPU: tools/dist_test.sh. The metrics (e.g. coco/bbox_mAP, or
accuracy/top1 for classifiers) are printed and logged to the work dir.
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
from mmengine.dist import is_main_process  # noqa: E402
from mmengine.registry import RUNNERS  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import mmgc  # noqa: E402,F401  (registers mmgc's modules)
from mmgc.engine.cpu_distributed import (  # noqa: E402
    CPU_DDP_WRAPPER, init_cpu_process_group, needs_cpu_distributed)
from mmgc.datasets.checks import check_dataset_files  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) a model checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir',
        help='the directory to save the file containing evaluation metrics')
    parser.add_argument(
        '--out',
        type=str,
        help='dump predictions to a pickle file (.pkl) for offline '
        'evaluation')
    parser.add_argument(
        '--show-dir',
        help='directory (inside the work dir) where images with predictions '
        'are saved')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, as key=value pairs')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def setup_cfg(args) -> Config:
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(
            f'Checkpoint {args.checkpoint} does not exist. tools/train.py '
            'writes epoch_N.pth files (and a last_checkpoint pointer) into '
            'its work dir.')
    cfg.load_from = args.checkpoint

    if args.show_dir:
        visualization = cfg.default_hooks.get('visualization')
        if visualization is None:
            raise RuntimeError(
                '--show-dir needs default_hooks.visualization '
                "(type='DetVisualizationHook') in the config.")
        visualization['draw'] = True
        visualization['test_out_dir'] = args.show_dir

    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError(
                f'--out must be a .pkl or .pickle file, got {args.out}.')
        cfg.test_evaluator = list(cfg.test_evaluator) if isinstance(
            cfg.test_evaluator, (list, tuple)) else [cfg.test_evaluator]
        # mmengine's generic dumper for classifiers, mmdet's for detectors.
        dumper = ('DumpResults' if cfg.get('default_scope') == 'mmpretrain'
                  else 'DumpDetResults')
        cfg.test_evaluator.append(dict(type=dumper, out_file_path=args.out))

    if needs_cpu_distributed(args.launcher):
        init_cpu_process_group(cfg.get('env_cfg', {}).get('dist_cfg', {}))
        if cfg.get('model_wrapper_cfg') is None:
            cfg.model_wrapper_cfg = dict(type=CPU_DDP_WRAPPER)
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = setup_cfg(args)
    check_dataset_files(cfg, splits=('test', ))

    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    metrics = runner.test()
    if is_main_process():  # every rank holds the same, gathered metrics
        print('\n'.join(f'{key}: {value}' for key, value in metrics.items()))


if __name__ == '__main__':
    main()
