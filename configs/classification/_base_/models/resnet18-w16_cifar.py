# mmpretrain's CIFAR ResNet-18 (ResNet_CIFAR: 3x3 stem, stride 1) at a
# quarter of the width (16/32/64/128 channels, "w16"), which keeps CPU time
# low, for ten classes: the network of the toy and MNIST classification pairs.
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ResNet_CIFAR',
        depth=18,
        stem_channels=16,
        base_channels=16,
        num_stages=4,
        out_indices=(3, ),
        style='pytorch'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=128,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)))
