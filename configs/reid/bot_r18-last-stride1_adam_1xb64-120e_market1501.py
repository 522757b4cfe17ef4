# ReID strong baseline (BoT) with ResNet-18; see the ResNet-50 config. The
# GC twin is bot_r18-last-stride1_sgd-gcc_1xb64-120e_market1501.py.
_base_ = './bot_r50-last-stride1_adam_1xb64-120e_market1501.py'

model = dict(
    backbone=dict(
        depth=18,
        init_cfg=dict(checkpoint='torchvision://resnet18')),
    head=dict(in_channels=512))
