"""The small model, the ranks' data and the unsharded training that
tests/test_sharded_gc.py (FSDP) and tests/test_deepspeed.py (DeepSpeed ZeRO)
compare their sharded runs with."""
import torch
from torch import nn


class ConvNet(nn.Module):
    """Conv2d (``filters`` filters of 3x3x3, pooled to 2x2) + two Linear
    layers (``hidden`` features, then 3 outputs), named conv, fc, head."""

    def __init__(self, filters: int, hidden: int):
        super().__init__()
        self.conv = nn.Conv2d(3, filters, 3, padding=1)
        self.fc = nn.Linear(4 * filters, hidden)
        self.head = nn.Linear(hidden, 3)

    def forward(self, x):
        x = nn.functional.adaptive_avg_pool2d(torch.relu(self.conv(x)), 2)
        return self.head(torch.relu(self.fc(x.flatten(1))))


def batch(rank: int, step: int, dtype: torch.dtype = None):
    """Rank ``rank``'s inputs and targets at ``step``, in torch's default
    dtype or, given ``dtype``, converted to it."""
    g = torch.Generator().manual_seed(1000 * step + rank)
    x, y = torch.randn(4, 3, 6, 6, generator=g), torch.randn(4, 3, generator=g)
    if dtype is not None:
        x, y = x.to(dtype), y.to(dtype)
    return x, y


def train_on_average(model, optimizer, loss, world_size: int, steps: int):
    """``steps`` steps of ``optimizer`` (a torch optimizer or an mmengine
    optim wrapper) on the average of ``loss(model, x, y)`` over the ranks'
    batches: the gradient data parallelism makes. Returns the weights."""
    for step in range(steps):
        optimizer.zero_grad()
        average = sum(loss(model, *batch(r, step))
                      for r in range(world_size)) / world_size
        average.backward()
        optimizer.step()
    return {k: v.detach().clone() for k, v in model.named_parameters()}
