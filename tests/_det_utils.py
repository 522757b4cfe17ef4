"""Helpers shared by the detection tests.

Also imported by training processes the tests start (through the config's
``custom_imports``), which is why the hook below lives here.
"""
import os
import subprocess
import sys
from pathlib import Path
from typing import List, Sequence

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from mmgc.datasets import ToyCocoSettings, generate_toy_coco

REPO_ROOT = Path(__file__).resolve().parents[1]
TESTS_DIR = REPO_ROOT / 'tests'
PYTHON = sys.executable

TOY_FASTER = REPO_ROOT / 'configs/toy/faster-rcnn_toy-r18_fpn_1x_toycoco.py'
TOY_FASTER_GC = (
    REPO_ROOT / 'configs/toy/faster-rcnn_toy-r18_fpn_gc_1x_toycoco.py')
TOY_MASK = REPO_ROOT / 'configs/toy/mask-rcnn_toy-r18_fpn_1x_toycoco.py'
TOY_MASK_GC = REPO_ROOT / 'configs/toy/mask-rcnn_toy-r18_fpn_gc_1x_toycoco.py'

#: A few toy images, enough for a handful of iterations.
TINY_TOY_COCO = ToyCocoSettings(num_train=16, num_val=8)


def make_tiny_toy_data(out_dir: Path) -> Path:
    generate_toy_coco(out_dir, TINY_TOY_COCO)
    return out_dir


def data_root_options(data_root: Path) -> List[str]:
    """--cfg-options that point every dataloader and evaluator of a COCO-style
    config at ``data_root``."""
    root = f'{data_root}/'
    ann = f'{root}annotations/instances_val2017.json'
    return [
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}',
        f'val_evaluator.ann_file={ann}',
        f'test_evaluator.ann_file={ann}',
    ]


def tiny_schedule_options(max_epochs: int = 2,
                          batch_size: int = 4) -> List[str]:
    """A few iterations: ``max_epochs`` epochs of the tiny dataset."""
    return [
        f'train_cfg.max_epochs={max_epochs}',
        f'train_dataloader.batch_size={batch_size}',
        'default_hooks.logger.interval=1',
        # Keep every epoch's checkpoint for the resume test.
        'default_hooks.checkpoint.max_keep_ckpts=5',
    ]


def run_tool(args: Sequence[str],
             timeout: float = 600,
             env: dict = None,
             check: bool = True) -> subprocess.CompletedProcess:
    """Run a command from the repository root; on an unexpected exit code,
    fail with the end of its output."""
    full_env = dict(os.environ)
    # One thread each: several processes share few cores (and OpenMP threads
    # that outnumber the free cores slow training down many times).
    full_env.setdefault('OMP_NUM_THREADS', '1')
    full_env.update(env or {})
    result = subprocess.run([str(a) for a in args],
                            cwd=REPO_ROOT,
                            env=full_env,
                            capture_output=True,
                            text=True,
                            timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(
            f'{" ".join(map(str, args))} exited with {result.returncode}:\n'
            f'{result.stdout[-4000:]}\n{result.stderr[-6000:]}')
    return result


@HOOKS.register_module()
class DumpRankParamsHook(Hook):
    """Saves every rank's parameters before and after training, so a test
    can check that distributed training kept the ranks identical."""

    def _dump(self, runner, stage: str) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        params = {
            name: p.detach().clone()
            for name, p in model.named_parameters()
        }
        torch.save(params,
                   Path(runner.work_dir) / f'rank{get_rank()}_{stage}.pth')

    def before_train(self, runner) -> None:
        self._dump(runner, 'before')

    def after_train(self, runner) -> None:
        self._dump(runner, 'after')
