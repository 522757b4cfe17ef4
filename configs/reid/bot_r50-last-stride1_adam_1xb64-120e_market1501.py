# ReID strong baseline (BoT): ResNet-50 with last stride 1, BNNeck, label
# smoothing + triplet + centre loss, Adam. The GC twin is
# bot_r50-last-stride1_sgd-gcc_1xb64-120e_market1501.py.
_base_ = './_base_/bot_market1501.py'

num_train_ids = 751  # Market-1501 bounding_box_train

model = dict(
    type='BaseReID',
    data_preprocessor=dict(
        type='mmpretrain.ClsDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='mmpretrain.ResNet',
        depth=50,
        num_stages=4,
        strides=(1, 2, 2, 1),  # last stride 1: a 16x8 final feature map
        out_indices=(3, ),
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='BNNeckHead',
        in_channels=2048,
        num_classes=num_train_ids,
        loss_cls=dict(
            type='mmpretrain.LabelSmoothLoss',
            label_smooth_val=0.1,
            mode='original'),
        loss_triplet=dict(type='TripletLoss', margin=0.3),
        loss_center=dict(type='CenterLoss', loss_weight=5e-4, center_lr=0.5),
        test_feature='after_bn'))

# Weight decay 5e-4 on every parameter, biases included, as in the baseline.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=3.5e-4, weight_decay=5e-4))
