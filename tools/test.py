"""Evaluate a trained checkpoint with the config's test evaluator, mmdet-style.

Usage:
    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE.pkl]
        [--show-dir DIR] [--non-strict] [--cfg-options KEY=VALUE ...]
        [--launcher {none,pytorch,slurm,mpi}]

Multi-GPU: tools/dist_test.sh. The metrics (e.g. coco/bbox_mAP, or
accuracy/top1 for classifiers) are printed and logged to the work dir.
The checkpoint must fit the config's model: a missing, unexpected or
size-mismatched key is an error naming the file and the keys
(StrictLoadHook), unless ``--non-strict`` is given, which loads the keys
that fit and logs how many did not. An empty, truncated or foreign file is
refused with what is wrong with it.

The setup it shares with tools/train.py (common options, config loading,
CPU-only torchrun, the Runner) is in :mod:`mmgc.engine.tool_setup`.
"""
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# Run from a source checkout without installing mmgc.
sys.path.insert(0, str(REPO_ROOT))

from mmengine.config import Config  # noqa: E402
from mmengine.dist import is_main_process  # noqa: E402

# Importing from mmgc registers its modules (optimizers, hooks, models, ...).
from mmgc.datasets.checks import check_dataset_files  # noqa: E402
from mmgc.engine.checkpoint import check_checkpoint_file  # noqa: E402
from mmgc.engine.tool_setup import (  # noqa: E402
    add_common_arguments, build_runner, finish_distributed, load_config,
    parse_tool_args, setup_cpu_distributed, tool_parser)


def parse_args(argv=None):
    parser = tool_parser('Test (and evaluate) a model checkpoint',
                         'test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    add_common_arguments(
        parser,
        'the directory to save the file containing evaluation metrics')
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
        '--non-strict',
        action='store_true',
        help='load a checkpoint that does not fit the model: keys that are '
        'missing, unexpected or of another size are skipped (and counted '
        'in the log) instead of being an error')
    return parse_tool_args(parser, argv)


def setup_cfg(args) -> Config:
    cfg = load_config(args)
    check_checkpoint_file(args.checkpoint, 'test')
    cfg.load_from = args.checkpoint
    cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
        dict(type='StrictLoadHook', checkpoint=args.checkpoint,
             strict=not args.non_strict)
    ]

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

    setup_cpu_distributed(cfg)
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = setup_cfg(args)
    check_dataset_files(cfg, splits=('test', ))

    metrics = build_runner(cfg).test()
    if is_main_process():  # every rank holds the same, gathered metrics
        print('\n'.join(f'{key}: {value}' for key, value in metrics.items()))
    finish_distributed()


if __name__ == '__main__':
    main()
