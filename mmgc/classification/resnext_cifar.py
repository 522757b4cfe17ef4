"""ResNeXt-29 for 32x32 inputs (CIFAR), the GC paper's "ResNeXt29 4x64d".

mmpretrain's ResNeXt is the ImageNet network (four stages, 7x7 stride-2 stem,
max pooling). The paper's CIFAR-100 table uses the CIFAR ResNeXt of the
authors' CIFAR code (the classic PyTorch CIFAR model zoo), rebuilt here:

- stem: a 1x1 conv, 3 -> 64 channels, stride 1, then BN and ReLU (the
  authors' code uses a 1x1 kernel here, not 3x3; no max pooling);
- three stages of three bottleneck blocks, strides 1, 2, 2 (32x32 -> 8x8);
- block: 1x1 conv to the group width, 3x3 grouped conv (``cardinality``
  groups, the stride is here), 1x1 conv to ``expansion`` (2) x the group
  width, each followed by BN, ReLU after the first two and after the sum; the
  shortcut is a strided 1x1 conv + BN where the shape changes;
- group width = cardinality x bottleneck width, and the bottleneck width
  doubles per stage: for 4x64d, 256 / 512 / 1024, so the stages put out
  512 / 1024 / 2048 channels;
- 29 layers: 3 stages x 3 blocks x 3 convs, the stem and the fc (the fc is
  the classifier head's, after global average pooling, in the config).

Weights keep PyTorch's default initialization, as in the authors' code.
"""
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule, Sequential
from torch import nn

from mmpretrain.models.backbones.base_backbone import BaseBackbone


class ResNeXtCIFARBlock(BaseModule):
    """Bottleneck with a grouped 3x3 conv; puts out ``expansion x
    group_width`` channels."""

    expansion = 2

    def __init__(self, in_channels, group_width, cardinality, stride=1,
                 norm_cfg=dict(type='BN'), init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        out_channels = self.expansion * group_width
        self.conv1 = nn.Conv2d(in_channels, group_width, 1, bias=False)
        self.norm1 = build_norm_layer(norm_cfg, group_width)[1]
        self.conv2 = nn.Conv2d(group_width, group_width, 3, stride=stride,
                               padding=1, groups=cardinality, bias=False)
        self.norm2 = build_norm_layer(norm_cfg, group_width)[1]
        self.conv3 = nn.Conv2d(group_width, out_channels, 1, bias=False)
        self.norm3 = build_norm_layer(norm_cfg, out_channels)[1]
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride,
                          bias=False),
                build_norm_layer(norm_cfg, out_channels)[1])

    def forward(self, x):
        out = self.relu(self.norm1(self.conv1(x)))
        out = self.relu(self.norm2(self.conv2(out)))
        out = self.norm3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNeXtCIFAR(BaseBackbone):
    """The CIFAR ResNeXt-29 of the GC paper's CIFAR-100 table (module
    docstring: the architecture).

    Args:
        cardinality (int): Groups of each 3x3 conv. Default 4.
        bottleneck_width (int): Channels per group in the first stage;
            doubled in each later stage. Default 64.
        stage_blocks (Sequence[int]): Blocks per stage. Default (3, 3, 3).
        strides (Sequence[int]): Stride of each stage's first block.
            Default (1, 2, 2).
        in_channels (int): Image channels. Default 3.
        stem_channels (int): Channels of the 1x1 stem conv. Default 64.
        out_indices (Sequence[int]): Stages whose outputs are returned.
            Default (2, ), the last (2048 x 8 x 8 for 4x64d on 32x32).
        norm_cfg (dict): Normalization layers. Default BN.
        init_cfg (dict, optional): None keeps PyTorch's initialization.
    """

    def __init__(self,
                 cardinality=4,
                 bottleneck_width=64,
                 stage_blocks=(3, 3, 3),
                 strides=(1, 2, 2),
                 in_channels=3,
                 stem_channels=64,
                 out_indices=(2, ),
                 norm_cfg=dict(type='BN'),
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if len(stage_blocks) != len(strides):
            raise ValueError(f'stage_blocks {tuple(stage_blocks)} and '
                             f'strides {tuple(strides)} must have one entry '
                             'per stage.')
        num_stages = len(stage_blocks)
        for i in out_indices:
            if not -num_stages <= i < num_stages:
                raise ValueError(f'out_indices {tuple(out_indices)}: there '
                                 f'are {num_stages} stages.')
        self.out_indices = tuple(i % num_stages for i in out_indices)
        self.stem = Sequential(
            nn.Conv2d(in_channels, stem_channels, 1, bias=False),
            build_norm_layer(norm_cfg, stem_channels)[1],
            nn.ReLU(inplace=True))
        channels = stem_channels
        self.stages = nn.ModuleList()
        for index, (blocks, stride) in enumerate(zip(stage_blocks, strides)):
            group_width = cardinality * bottleneck_width * 2**index
            layers = []
            for block in range(blocks):
                layers.append(
                    ResNeXtCIFARBlock(channels, group_width, cardinality,
                                      stride if block == 0 else 1, norm_cfg))
                channels = ResNeXtCIFARBlock.expansion * group_width
            self.stages.append(Sequential(*layers))
        #: Channels of the last stage's output (the head's in_channels).
        self.out_channels = channels

    def forward(self, x):
        x = self.stem(x)
        outs = []
        for index, stage in enumerate(self.stages):
            x = stage(x)
            if index in self.out_indices:
                outs.append(x)
        return tuple(outs)
