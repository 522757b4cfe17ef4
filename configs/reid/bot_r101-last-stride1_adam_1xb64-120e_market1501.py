# ReID strong baseline (BoT) with ResNet-101; see the ResNet-50 config. The
# GC twin is bot_r101-last-stride1_sgd-gcc_1xb64-120e_market1501.py.
_base_ = './bot_r50-last-stride1_adam_1xb64-120e_market1501.py'

model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(checkpoint='torchvision://resnet101')),
    head=dict(in_channels=2048))
