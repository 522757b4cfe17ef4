# Paper row: CIFAR-100 (Table 1), DenseNet121 with SGDM, test accuracy 79.31
# w/o GC -> 79.68 w/ GC (GC twin: densenet121_gc_1xb128_cifar100.py).
# The paper's recipe (section 5.3): 200 epochs on one GPU, batch 128, SGD
# momentum 0.9, lr 0.1 x0.1 every 60 epochs, weight decay 5e-4.
# CIFAR-sized network: mmgc's DenseNetCIFAR, mmpretrain's DenseNet-121
# (growth rate 32, blocks of 6/12/24/16 layers) with a 3x3 stride-1 stem
# conv and no max pooling in place of the ImageNet stem (7x7 stride-2 conv +
# max pooling), which would shrink 32x32 inputs to 1x1 before the last block.
_base_ = [
    '../_base_/datasets/cifar100_bs128.py',
    '../_base_/schedules/cifar100_sgd_200e.py',
    'mmpretrain::_base_/default_runtime.py',
]
# mmgc.classification registers DenseNetCIFAR in mmpretrain's MODELS.
custom_imports = dict(
    imports=['mmgc', 'mmgc.classification'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(type='DenseNetCIFAR', arch='121'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=100,
        in_channels=1024,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)))
