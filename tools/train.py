"""Train a detector (or any mmengine model) from a config, mmdet-style.

Usage:
    python tools/train.py CONFIG [--work-dir DIR] [--amp] [--auto-scale-lr]
        [--resume [CHECKPOINT] | --overwrite] [--cfg-options KEY=VALUE ...]
        [--launcher {none,pytorch,slurm,mpi}]

Multi-GPU / multi-node: tools/dist_train.sh (torchrun) or
tools/slurm_train.sh. On machines without CUDA, torchrun jobs need
``--cfg-options env_cfg.dist_cfg.backend=gloo``.

This script imports mmgc itself, so configs without ``custom_imports`` can
still use mmgc's optimizers. Before anything is built it checks that the
optimizer type exists and that the dataset files are where the config says.

Nothing is lost and nothing diverges silently: checkpoints are written
atomically (AtomicCheckpointHook), ``--resume`` resumes from the newest
complete checkpoint and says what it skipped, and refuses a checkpoint that
does not fit the model or a config that changes its GC, a work dir that
holds another run's checkpoints is not trained over without ``--resume`` or
``--overwrite`` (which deletes them only once the new run is built, and
nothing outside the work dir), each epoch is reseeded so a resumed run
equals an uninterrupted one (RandomStateHook), and ranks that built
different optimizers stop (OptimizerConsistencyHook); see "Checkpoints,
resume and interrupted runs" in docs/en/detection.md.

The setup it shares with tools/test.py (common options, config loading,
CPU-only torchrun, the Runner) is in :mod:`mmgc.engine.tool_setup`.
"""
import os.path as osp
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# Run from a source checkout without installing mmgc.
sys.path.insert(0, str(REPO_ROOT))

from mmengine.config import Config  # noqa: E402

import mmgc  # noqa: E402  (registers mmgc's modules)
from mmgc.datasets.checks import check_dataset_files  # noqa: E402
from mmgc.engine.checkpoint import (  # noqa: E402
    DEFAULT_TEMPLATES, PARTIAL_SUFFIX, check_checkpoint_file,
    find_resumable_checkpoint, is_inside, run_checkpoint_files)
from mmgc.engine.optim_wrapper_constructor import (  # noqa: E402
    check_gc_options_have_a_reader)
from mmgc.engine.tool_setup import (  # noqa: E402
    add_common_arguments, add_training_hooks, build_runner,
    finish_distributed, load_config, parse_tool_args, say,
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
    run = parser.add_mutually_exclusive_group()
    run.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint; without a path, resume from the '
        'newest complete checkpoint in the work dir')
    run.add_argument(
        '--overwrite',
        action='store_true',
        help='start a new run in a work dir that holds checkpoints of '
        'another run; they are deleted once the new run is built, just '
        'before it trains (without it, such a work dir is refused). Files '
        'outside the work dir are never touched')
    parser.add_argument(
        '--non-strict',
        action='store_true',
        help='with --resume: resume from a checkpoint that does not fit the '
        'model (keys missing, unexpected or of another shape), loading the '
        'keys that fit and warning with the counts; without it such a '
        'resume is refused')
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

    add_training_hooks(cfg)
    resume = args.resume
    if resume is None and cfg.get('resume'):  # resume=True in the config
        resume = cfg.get('load_from') or 'auto'
    if args.non_strict and resume is None:
        raise ValueError(
            '--non-strict only applies to a resumed run (--resume); a new '
            'run loads load_from non-strictly already.')
    if resume == 'auto':
        resume_newest_checkpoint(cfg)
    elif resume is not None:
        check_checkpoint_file(resume, 'resume')
        cfg.resume = True
        cfg.load_from = resume
    else:
        if args.overwrite:
            delete_previous_run_when_built(cfg)
        else:
            refuse_to_train_over_a_run(cfg)
        if cfg.get('load_from'):
            check_checkpoint_file(cfg.load_from, 'load_from')
    if cfg.get('resume') and cfg.get('load_from'):
        check_resumed_run(cfg, strict=not args.non_strict)

    setup_cpu_distributed(cfg)
    return cfg


def check_resumed_run(cfg: Config, strict: bool) -> None:
    """A resume must continue the run it resumes: the checkpoint must fit
    the model (StrictLoadHook) and the config must not change GC options
    that the checkpoint's optimizer would silently override
    (ResumedOptimizerCheckHook)."""
    checkpoint = cfg.load_from
    cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
        dict(type='StrictLoadHook', checkpoint=checkpoint, strict=strict,
             fix='A resumed run must train the model the checkpoint was '
             'saved from, or the parts that do not fit start again from '
             'their initial weights. Resume with the config the run was '
             'trained with; to start a new run from the weights that fit, '
             f'use --cfg-options load_from={checkpoint} (in another '
             '--work-dir, or with --overwrite); to resume anyway, add '
             '--non-strict.'),
        dict(type='ResumedOptimizerCheckHook', checkpoint=checkpoint),
    ]


def checkpoint_places(cfg: Config):
    """The checkpoint hook's file name templates and the folders besides
    the work dir where it writes."""
    hook = (cfg.get('default_hooks') or {}).get('checkpoint') or {}
    templates = list(DEFAULT_TEMPLATES)
    if hook.get('filename_tmpl'):
        templates.insert(0, hook['filename_tmpl'])
    extra_dirs = []
    out_dir = hook.get('out_dir')
    if out_dir and '://' not in str(out_dir):
        extra_dirs.append(
            osp.join(out_dir, osp.basename(cfg.work_dir.rstrip(osp.sep))))
    return templates, extra_dirs


def resume_newest_checkpoint(cfg: Config) -> None:
    """``--resume`` without a path: the newest complete, loadable
    checkpoint of the work dir, saying what was skipped; a run with none
    starts from the beginning."""
    templates, extra_dirs = checkpoint_places(cfg)
    choice = find_resumable_checkpoint(cfg.work_dir, templates, extra_dirs)
    for path, why in choice.skipped:
        say(f'--resume: skipped {path}: it {why}.')
    if choice.path is None:
        say(f'--resume: {cfg.work_dir} holds no complete checkpoint; '
            'training from the start.')
        cfg.resume = False
        if cfg.get('load_from'):
            check_checkpoint_file(cfg.load_from, 'load_from')
        return
    say(f'--resume: resuming from {choice.path} (epoch '
        f'{choice.meta["epoch"]}, iteration {choice.meta["iter"]}).')
    cfg.resume = True
    cfg.load_from = choice.path


def previous_run_files(cfg: Config):
    """The checkpoints (and last_checkpoint pointer) of a run in the work
    dir, newest first."""
    templates, extra_dirs = checkpoint_places(cfg)
    files = run_checkpoint_files(cfg.work_dir, templates, extra_dirs)
    pointer = osp.join(cfg.work_dir, 'last_checkpoint')
    return files + ([pointer] if osp.isfile(pointer) else [])


def refuse_to_train_over_a_run(cfg: Config) -> None:
    """A new run would overwrite the checkpoints of the one in the work dir
    (and repoint last_checkpoint): refuse, naming them and the choices."""
    files = [
        f for f in previous_run_files(cfg) if not f.endswith(PARTIAL_SUFFIX)
    ]
    if not files:
        return
    names = ', '.join(osp.basename(f) for f in files[:6])
    if len(files) > 6:
        names += f', ... ({len(files)} files)'
    raise FileExistsError(
        f'{cfg.work_dir} holds the checkpoints of an earlier run ({names}). '
        'A new run there would overwrite them. To continue that run, add '
        '--resume (it resumes from the newest complete checkpoint); to '
        'start a new one, pass another --work-dir, or add --overwrite to '
        'delete them and train from the start in this work dir.')


def delete_previous_run_when_built(cfg: Config) -> None:
    """``--overwrite``: a later --resume must not find the earlier run's
    checkpoints, so they go (logs and configs stay), but only once the new
    run is built (DeletePreviousRunHook): a run refused on the way leaves
    them in place.

    Only files inside the work dir go. A work dir copied from another run
    has a ``last_checkpoint`` that names the other run's files; those stay.
    Checkpoints of this work dir's run written elsewhere (the checkpoint
    hook's ``out_dir``) are not deleted either: the run is refused, naming
    them, since a later ``--resume`` would find them.
    """
    templates, extra_dirs = checkpoint_places(cfg)
    hook_dirs = {osp.realpath(d) for d in extra_dirs}
    outside = [
        f for f in run_checkpoint_files(cfg.work_dir, templates, extra_dirs)
        if not is_inside(f, cfg.work_dir)
        and osp.dirname(osp.realpath(f)) in hook_dirs
    ]
    if outside:
        raise FileExistsError(
            f'--overwrite deletes only what is inside the work dir '
            f'{cfg.work_dir}, but this run also wrote checkpoints to the '
            f'checkpoint hook\'s out_dir: {", ".join(outside[:6])}. A later '
            '--resume would find them. Move or delete them yourself, or '
            'pass another --work-dir.')
    inside = [f for f in previous_run_files(cfg)
              if is_inside(f, cfg.work_dir)]
    if inside:
        cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
            dict(type='DeletePreviousRunHook', work_dir=cfg.work_dir,
                 files=inside)
        ]


def main(argv=None):
    args = parse_args(argv)
    cfg = setup_cfg(args)
    check_optimizer_type(cfg)
    check_gc_options_have_a_reader(cfg.get('optim_wrapper'))
    check_dataset_files(cfg, splits=('train', 'val'))

    build_runner(cfg).train()
    finish_distributed()


if __name__ == '__main__':
    main()
