"""A classifier small enough that tools/train.py and tools/test.py run it
in a second, for tests of the tools themselves (needs mmengine only).

Imported by the tests and by the configs :func:`write_tiny_config` writes
(``custom_imports``; a process started by a test needs ``tests/`` on its
``PYTHONPATH``).
"""
from pathlib import Path

import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from mmengine.registry import DATASETS, METRICS, MODELS
from torch import nn
from torch.utils.data import Dataset

N_SAMPLES = 16


@MODELS.register_module(force=True)
class TinyClassifier(BaseModel):
    """A conv and a linear layer; ``width`` changes the shapes (for
    checkpoints of another model)."""

    def __init__(self, width: int = 4, num_classes: int = 3):
        super().__init__()
        self.conv = nn.Conv2d(3, width, 3)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, inputs, labels=None, mode='tensor'):
        logits = self.fc(self.conv(inputs).relu().mean(dim=(2, 3)))
        if mode == 'loss':
            return dict(loss=F.cross_entropy(logits, labels))
        if mode == 'predict':
            return list(zip(logits.argmax(1).tolist(), labels.tolist()))
        return logits


@DATASETS.register_module(force=True)
class TinyImages(Dataset):
    """Random 3x6x6 images with a random flip (drawn from torch's global
    generator, as augmentations draw from the global generators)."""

    def __init__(self):
        g = torch.Generator().manual_seed(1)
        self.inputs = torch.randn(N_SAMPLES, 3, 6, 6, generator=g)
        self.labels = torch.randint(0, 3, (N_SAMPLES, ), generator=g)

    def __len__(self):
        return N_SAMPLES

    def __getitem__(self, i):
        image = self.inputs[i]
        if torch.rand(()) < 0.5:
            image = image.flip(-1)
        return dict(inputs=image, labels=self.labels[i])


@METRICS.register_module(force=True)
class TinyAccuracy(BaseMetric):

    def process(self, data_batch, data_samples):
        self.results.extend(data_samples)

    def compute_metrics(self, results):
        return dict(accuracy=100.0 * sum(p == t for p, t in results) /
                    len(results))


def write_tiny_config(path: Path, optimizer: str = 'SGD_GC',
                      max_epochs: int = 2) -> Path:
    """A tools/train.py config for the tiny classifier, with mmengine's own
    CheckpointHook (tools/train.py makes it atomic)."""
    loader = ("dict(dataset=dict(type='TinyImages'), "
              "sampler=dict(type='DefaultSampler', shuffle={shuffle}), "
              "batch_size=4, num_workers=0, "
              "collate_fn=dict(type='default_collate'))")
    path.write_text(
        "custom_imports = dict(imports=['mmgc', '_tiny_runs'], "
        'allow_failed_imports=False)\n'
        "default_scope = 'mmengine'\n"
        "model = dict(type='TinyClassifier')\n"
        f'train_dataloader = {loader.format(shuffle=True)}\n'
        f'val_dataloader = {loader.format(shuffle=False)}\n'
        'test_dataloader = val_dataloader\n'
        "val_evaluator = dict(type='TinyAccuracy')\n"
        'test_evaluator = val_evaluator\n'
        f'train_cfg = dict(by_epoch=True, max_epochs={max_epochs}, '
        'val_interval=1)\n'
        'val_cfg = dict()\n'
        'test_cfg = dict()\n'
        f"optim_wrapper = dict(optimizer=dict(type='{optimizer}', lr=0.1, "
        'momentum=0.9))\n'
        'default_hooks = dict(\n'
        "    checkpoint=dict(type='CheckpointHook', interval=1, "
        'max_keep_ckpts=1),\n'
        "    logger=dict(type='LoggerHook', interval=1))\n"
        # mmengine < 0.8 needs it stated.
        "env_cfg = dict(dist_cfg=dict(backend='gloo'))\n"
        "log_level = 'WARNING'\n"
        'randomness = dict(seed=0)\n')
    return path
