"""DenseNet for 32x32 inputs (CIFAR), from mmpretrain's ImageNet DenseNet.

mmpretrain's DenseNet starts with a 7x7 stride-2 conv and a stride-2 max
pooling, which turn a 32x32 CIFAR image into 8x8 before the first dense block
and 1x1 before the last. The CIFAR DenseNet the GC paper's CIFAR-100 table
uses keeps the full resolution at the start: one 3x3 stride-1 conv with
2 x growth-rate channels and no pooling (the dense layers are pre-activation,
BN-ReLU-conv, so the stem needs no norm of its own). Everything after the
stem is mmpretrain's: dense blocks, transitions with 0.5 compression and
average pooling, the final BN-ReLU. DenseNet-121 on 32x32 inputs gives a
1024 x 4 x 4 feature map.
"""
from torch import nn

from mmpretrain.models.backbones import DenseNet


class DenseNetCIFAR(DenseNet):
    """mmpretrain's DenseNet with a CIFAR stem (3x3 conv, stride 1).

    Takes the arguments of :class:`mmpretrain.models.backbones.DenseNet`.
    """

    def __init__(self, arch='121', in_channels=3, **kwargs):
        super().__init__(arch=arch, in_channels=in_channels, **kwargs)
        self.stem = nn.Conv2d(
            in_channels,
            self.init_channels,
            kernel_size=3,
            stride=1,
            padding=1,
            bias=False)
