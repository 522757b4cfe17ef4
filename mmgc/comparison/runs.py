"""Finished training runs, read back from their mmengine work dirs.

A run is one ``tools/train.py`` work dir: every session of it (a resume
starts a new one) leaves ``<timestamp>/vis_data/scalars.json``, one JSON
object per line, with the training losses per iteration and the validation
metrics per epoch. The metric sets the comparison table knows (COCO box and
mask AP, ReID, classification accuracy and error) are defined here.
"""
import json
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Union

from .configs import recorded_seed

# Known metric sets: (config key, column name). ``scale`` turns the logged
# value into the paper's unit (COCO logs fractions, the paper percentages).
METRIC_SETS = OrderedDict([
    ('bbox', dict(
        title='box',
        heading='Detection: COCO box AP (%)',
        scale=100.0,
        keys=[('coco/bbox_mAP', 'AP'), ('coco/bbox_mAP_50', 'AP50'),
              ('coco/bbox_mAP_75', 'AP75'), ('coco/bbox_mAP_s', 'APs'),
              ('coco/bbox_mAP_m', 'APm'), ('coco/bbox_mAP_l', 'APl')])),
    ('segm', dict(
        title='mask',
        heading='Instance segmentation: COCO mask AP (%)',
        scale=100.0,
        keys=[('coco/segm_mAP', 'AP'), ('coco/segm_mAP_50', 'AP50'),
              ('coco/segm_mAP_75', 'AP75'), ('coco/segm_mAP_s', 'APs'),
              ('coco/segm_mAP_m', 'APm'), ('coco/segm_mAP_l', 'APl')])),
    ('reid', dict(
        title='ReID',
        heading='ReID: mAP and CMC rank-k (%)',
        scale=1.0,  # the ReID metric already logs percentages
        keys=[('reid/mAP', 'mAP'), ('reid/R1', 'R1'), ('reid/R5', 'R5'),
              ('reid/R10', 'R10')])),
    ('cls', dict(
        title='cls',
        heading='Classification: top-1/top-5 accuracy and error (%)',
        scale=1.0,  # mmpretrain's Accuracy logs percentages
        decimals=2,  # as the paper's classification tables
        keys=[('accuracy/top1', 'top-1 acc'), ('accuracy/top5', 'top-5 acc'),
              ('error/top1', 'top-1 err'), ('error/top5', 'top-5 err')])),
])
# The paper reports ImageNet top-1 error; it is derived from the accuracy.
DERIVED_ERRORS = {'accuracy/top1': 'error/top1', 'accuracy/top5': 'error/top5'}
#: Scalars of the gradient hooks (mmgc.engine.hooks), logged per iteration.
GRADIENT_PREFIXES = ('grad_max/', 'grad_l2/', 'gc/')
TIMESTAMP_DIR = re.compile(r'^\d{8}_\d{6}$')
SEED_DIR = re.compile(r'seed_(\d+)')


@dataclass
class Run:
    """One training run: its losses per iteration and metrics per epoch."""
    path: Path
    seed: Optional[int]
    train: Dict[int, dict] = field(default_factory=dict)  # iteration -> log
    val: Dict[int, dict] = field(default_factory=dict)  # epoch -> metrics
    # iteration -> gradient statistics (GradientStatsHook, GCStatsHook)
    gradients: Dict[int, dict] = field(default_factory=dict)
    # The seed the run's own config says it was trained with (None when
    # the folder holds no record or dumped config).
    recorded_seed: Optional[int] = None

    @property
    def final_epoch(self) -> Optional[int]:
        return max(self.val) if self.val else None

    @property
    def final_metrics(self) -> dict:
        return self.val[self.final_epoch] if self.val else {}


def scalar_files(run_dir: Path) -> List[Path]:
    """scalars.json of every session of a run (a resume starts a new one),
    oldest first."""
    sessions = sorted(p for p in run_dir.iterdir()
                      if p.is_dir() and TIMESTAMP_DIR.match(p.name))
    return [
        s / 'vis_data' / 'scalars.json' for s in sessions
        if (s / 'vis_data' / 'scalars.json').is_file()
    ]


def seed_of(run_dir: Path) -> Optional[int]:
    """The seed of a run: from its ``seed_<N>`` folder name, else from the
    config it was trained with; None when neither tells."""
    match = SEED_DIR.fullmatch(run_dir.name)
    if match:
        return int(match.group(1))
    # A plain tools/train.py work dir: the dumped config knows the seed.
    return recorded_seed(run_dir)


def read_run(run_dir: Union[str, Path]) -> Run:
    """The losses and validation metrics logged in ``run_dir``; top-k error
    is added beside each logged top-k accuracy."""
    run_dir = Path(run_dir)
    run = Run(path=run_dir, seed=seed_of(run_dir),
              recorded_seed=recorded_seed(run_dir))
    for scalars in scalar_files(run_dir):
        for line in scalars.read_text().splitlines():
            if not line.strip():
                continue
            entry = json.loads(line)
            step = int(entry['step'])
            if 'loss' in entry:
                # A resumed session repeats no steps, but if it does, the
                # later session wins.
                run.train[step] = entry
            elif any(key.startswith(GRADIENT_PREFIXES) for key in entry):
                # Logged by iteration, not by epoch: no validation metrics.
                run.gradients[step] = entry
            elif any('/' in key for key in entry):
                metrics = {
                    key: value
                    for key, value in entry.items()
                    if '/' in key and isinstance(value, (int, float))
                }
                for accuracy, error in DERIVED_ERRORS.items():
                    if accuracy in metrics and error not in metrics:
                        metrics[error] = 100.0 - metrics[accuracy]
                run.val[step] = metrics
    return run


def find_runs(work_dir: Union[str, Path]) -> List[Run]:
    """Runs below ``work_dir``: ``seed_*`` folders of a compare, or the work
    dir of a single tools/train.py run."""
    work_dir = Path(work_dir)
    if not work_dir.is_dir():
        raise FileNotFoundError(f'{work_dir} is neither a config file nor a '
                                'work directory.')
    seed_dirs = sorted(
        (p for p in work_dir.iterdir()
         if p.is_dir() and SEED_DIR.fullmatch(p.name)),
        key=lambda p: int(p.name[5:]))
    runs = [read_run(d) for d in (seed_dirs or [work_dir])]
    runs = [r for r in runs if r.val]
    if not runs:
        raise FileNotFoundError(
            f'{work_dir} holds no finished evaluation: expected '
            '<timestamp>/vis_data/scalars.json with validation metrics, as '
            'written by tools/train.py (val_interval must be set), in it or '
            'in its seed_<N>/ folders.')
    return runs
