"""Random numbers that make a resumed run equal an uninterrupted one.

mmengine seeds torch, numpy and Python's ``random`` once, when the Runner is
built. Their streams then run on through all of training: every epoch's
augmentations (drawn from numpy in the main process when
``num_workers=0``), dropout and the samplers of detection heads depend on
everything drawn before, validation included. A run resumed from epoch k's
checkpoint starts the streams afresh, so from there on it draws other
numbers than the run it continues (on the toy classifier, a top-1
accuracy several points away from the uninterrupted run's).

:class:`RandomStateHook` reseeds every stream at the start of each epoch
(each iteration for iteration-based loops) from the run's seed and the
epoch, so what an epoch draws depends only on ``(seed, epoch)``. It writes
the seed and this rule into each checkpoint and takes the seed back from
the checkpoint on resume (FlexibleRunner's checkpoints carry no seed).
"""
import random
from typing import Optional

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop

__all__ = ['RandomStateHook', 'reseed_all']

#: The rule, as written into checkpoints (a different rule, or none, means
#: the checkpoint's run drew other numbers).
RESEED_RULE = 'mmgc.RandomStateHook/v1: per epoch or iteration'
_EPOCH, _ITERATION = 1, 2


def reseed_all(seed: int, unit: int, index: int) -> None:
    """Seed torch (every CUDA device too), numpy and ``random`` from
    ``(seed, unit, index)``; independent streams for every triple."""
    sequence = np.random.SeedSequence([seed % 2**63, unit, index])
    words = sequence.generate_state(4, np.uint32).tolist()
    torch.manual_seed(words[0] << 32 | words[1])  # CUDA too
    np.random.seed(words[2])
    random.seed(words[3])


class RandomStateHook(Hook):
    """Make each epoch's random numbers a function of ``(seed, epoch)``, so a
    run resumed from a checkpoint equals the uninterrupted run bit for bit.

    Epoch-based loops are reseeded before each epoch, ahead of everything
    that draws (the dataloader, the data pipeline in the main process, the
    model); iteration-based loops before each iteration. Data-loading
    workers are seeded by mmengine from the seed alone when they start,
    which they do each epoch unless ``persistent_workers=True``; persistent
    workers keep their streams across epochs, and a resumed run warns about
    that. In an iteration-based loop the first batch after a resume is
    augmented before the hook can reseed, so with ``num_workers=0`` that one
    batch differs (the hook warns too).

    ``tools/train.py`` adds it to every config; elsewhere::

        custom_hooks = [dict(type='RandomStateHook')]
    """

    priority = 'HIGHEST'  # before any other hook of the epoch draws

    def __init__(self):
        self._seed: Optional[int] = None
        self._resumed: Optional[dict] = None

    def _run_seed(self, runner) -> int:
        if self._seed is None:
            self._seed = int(runner.seed)
        return self._seed

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta', {})['random_state'] = dict(
            seed=self._run_seed(runner), rule=RESEED_RULE)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._resumed = checkpoint.get('meta', {}).get('random_state') or {}

    def before_train(self, runner) -> None:
        loaded, self._resumed = self._resumed, None
        if runner.iter == 0 or loaded is None:
            return  # a new run (load_from only loads weights)
        if loaded.get('rule') != RESEED_RULE:
            runner.logger.warning(
                'RandomStateHook: the checkpoint was written by a run '
                'without it, whose random numbers depended on its whole '
                'history; from here on this run draws different ones than '
                'that run would have (the weights, optimizer and schedule '
                'resume exactly).')
        elif loaded['seed'] != self._run_seed(runner):
            runner.logger.info(
                f'RandomStateHook: continuing with the seed of the resumed '
                f'run, {loaded["seed"]} (this process has {self._seed}).')
            self._seed = loaded['seed']
        self._warn_about_inexact_data(runner)

    def _warn_about_inexact_data(self, runner) -> None:
        loader = runner.train_loop.dataloader
        if getattr(loader, 'num_workers', 0) > 0 and getattr(
                loader, 'persistent_workers', False):
            runner.logger.warning(
                'RandomStateHook: the training dataloader keeps its worker '
                'processes (persistent_workers=True), whose random streams '
                'run on across epochs, so this resumed run augments '
                'differently from an uninterrupted one. Set '
                'train_dataloader.persistent_workers=False for an exact '
                'resume.')
        if not self._by_epoch(runner) and getattr(loader, 'num_workers',
                                                  0) == 0:
            runner.logger.warning(
                'RandomStateHook: in an iteration-based loop with '
                'num_workers=0 the first batch after a resume is augmented '
                'with other random numbers than in the uninterrupted run '
                '(all later ones are the same).')

    @staticmethod
    def _by_epoch(runner) -> bool:
        return isinstance(runner.train_loop, EpochBasedTrainLoop)

    def before_train_epoch(self, runner) -> None:
        if self._by_epoch(runner):
            reseed_all(self._run_seed(runner), _EPOCH, runner.epoch)

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        if not self._by_epoch(runner):
            reseed_all(self._run_seed(runner), _ITERATION, runner.iter)
