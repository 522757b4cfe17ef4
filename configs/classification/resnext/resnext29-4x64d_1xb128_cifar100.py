# Paper row: CIFAR-100 (Table 1), ResNeXt29 4x64d with SGDM (GC twin:
# resnext29-4x64d_gc_1xb128_cifar100.py); the accuracies are in the paper's
# Table 1.
# The paper's recipe (section 5.3): 200 epochs on one GPU, batch 128, SGD
# momentum 0.9, lr 0.1 x0.1 every 60 epochs, weight decay 5e-4.
# CIFAR-sized network: mmgc's ResNeXtCIFAR, the CIFAR ResNeXt29 of the
# authors' CIFAR code (mmpretrain's ResNeXt is the ImageNet one): a 1x1 stem
# conv of 64 channels, three stages of three blocks with strides 1/2/2,
# grouped 3x3 convs of cardinality 4 and group width 256/512/1024, expansion
# 2 (2048 x 8 x 8 features), global average pooling and a 2048 -> 100 fc.
_base_ = [
    '../_base_/datasets/cifar100_bs128.py',
    '../_base_/schedules/cifar100_sgd_200e.py',
    'mmpretrain::_base_/default_runtime.py',
]
# mmgc.classification registers ResNeXtCIFAR in mmpretrain's MODELS.
custom_imports = dict(
    imports=['mmgc', 'mmgc.classification'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNeXtCIFAR', cardinality=4, bottleneck_width=64),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=100,
        in_channels=2048,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)))
