"""A small model and the GC constructor call shared by the constructor
tests."""
import torch
from mmengine.optim import build_optim_wrapper
from torch import nn


def build_with_gc_constructor(model, optimizer, **paramwise_cfg):
    """An optim wrapper built by GCOptimWrapperConstructor."""
    return build_optim_wrapper(
        model,
        dict(constructor='GCOptimWrapperConstructor',
             optimizer=optimizer,
             paramwise_cfg=paramwise_cfg))


class TinyNet(nn.Module):
    """conv (GC), BN (never GC), fc (GC unless conv_only)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 3 * 3, 5)

    def forward(self, x):
        return self.fc(self.bn(self.conv(x)).flatten(1))
