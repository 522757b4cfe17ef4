# ResNet-50 initialised from PyTorch's official ImageNet weights, as the
# paper's fine-grained experiments (section 5.5). torchvision's parameter
# names are those of mmpretrain's ResNet backbone, so the file loads as is
# (its fc.* entries are skipped: each dataset gets a new classifier).
# The weights are read from a local file, never downloaded at run time:
#   mkdir -p data/pretrained && wget -P data/pretrained \
#       https://download.pytorch.org/models/resnet50-19c8e357.pth
_base_ = 'mmpretrain::_base_/models/resnet50.py'

pretrained = 'data/pretrained/resnet50-19c8e357.pth'
model = dict(
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained)))
