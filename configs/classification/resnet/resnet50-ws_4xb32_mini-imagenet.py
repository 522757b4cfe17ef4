# Paper row: Mini-ImageNet, ResNet-50 with BN and Weight Standardization
# ("BN+WS"; GC twin resnet50-ws_gc_4xb32_mini-imagenet.py is "BN+WS+GC"),
# shown as curves in the paper's Fig. 5.
# resnet50_4xb32_mini-imagenet.py with every conv layer of the backbone a
# ConvWS (mmcv's weight-standardized convolution); the fc layer stays plain.
_base_ = './resnet50_4xb32_mini-imagenet.py'

model = dict(backbone=dict(conv_cfg=dict(type='ConvWS')))
