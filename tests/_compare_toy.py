"""A model, dataset and metric small enough that tools/compare.py trains a
pair of configs with two seeds in seconds, with mmengine alone (no mmdet,
mmcv or mmpretrain). Imported by the training processes through the toy
configs' ``custom_imports`` (tests/ is on their PYTHONPATH)."""
import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from mmengine.registry import DATASETS, METRICS, MODELS
from torch import nn
from torch.utils.data import Dataset

NUM_FEATURES, NUM_CLASSES = 6, 3

#: The toy configs: a baseline with SGD, and what tests put after it.
BASELINE_CONFIG = '''
custom_imports = dict(imports=['mmgc', '_compare_toy'],
                      allow_failed_imports=False)
model = dict(type='CompareToyNet', width=8)
train_dataloader = dict(
    batch_size=16, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='CompareToyData', split='train'))
val_dataloader = dict(
    batch_size=16, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='CompareToyData', split='val'))
val_evaluator = dict(type='CompareToyMetric')
train_cfg = dict(by_epoch=True, max_epochs=2, val_interval=1)
val_cfg = dict()
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9))
default_hooks = dict(logger=dict(type='LoggerHook', interval=1),
                     checkpoint=dict(type='CheckpointHook', interval=1))
randomness = dict(seed=0)
# mmengine < 0.8 reads env_cfg without a default.
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
'''


@MODELS.register_module()
class CompareToyNet(BaseModel):
    """Two linear layers; ``width`` is the hidden size."""

    def __init__(self, width: int = 8):
        super().__init__()
        self.hidden = nn.Linear(NUM_FEATURES, width)
        self.out = nn.Linear(width, NUM_CLASSES)

    def forward(self, inputs, labels, mode='tensor'):
        logits = self.out(self.hidden(inputs).relu())
        if mode == 'loss':
            return dict(loss=F.cross_entropy(logits, labels))
        if mode == 'predict':
            losses = F.cross_entropy(logits, labels, reduction='none')
            return [dict(correct=bool(c), loss=float(v)) for c, v in zip(
                logits.argmax(1) == labels, losses)]
        return logits


@DATASETS.register_module()
class CompareToyData(Dataset):
    """Points labelled by a fixed linear rule, the same in every process."""

    def __init__(self, split: str = 'train'):
        size = 64 if split == 'train' else 32
        g = torch.Generator().manual_seed(0 if split == 'train' else 1)
        self.inputs = torch.randn(size, NUM_FEATURES, generator=g)
        rule = torch.randn(NUM_FEATURES, NUM_CLASSES,
                           generator=torch.Generator().manual_seed(2))
        self.labels = (self.inputs @ rule).argmax(1)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        return dict(inputs=self.inputs[index], labels=self.labels[index])


@METRICS.register_module()
class CompareToyMetric(BaseMetric):
    """``toy/accuracy`` (%, higher is better) and ``toy/loss`` (lower is
    better)."""
    default_prefix = 'toy'

    def process(self, data_batch, data_samples):
        self.results.extend(data_samples)

    def compute_metrics(self, results):
        return dict(
            accuracy=100.0 * sum(r['correct'] for r in results) / len(results),
            loss=sum(r['loss'] for r in results) / len(results))
