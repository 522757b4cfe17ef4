# Paper row: Mini-ImageNet, ResNet-50 with BN ("BN"; GC twin
# resnet50_gc_4xb32_mini-imagenet.py is "BN+GC"). The paper shows this
# comparison as training-loss and test-accuracy curves (its Fig. 5), without a
# table of numbers.
# Recipe (section 5.2): 224x224 inputs, 4 GPUs x 32 images (batch 128), SGD
# momentum 0.9, other settings as for ImageNet: mmpretrain's ImageNet
# schedule (100 epochs, lr 0.1, wd 1e-4, lr x0.1 at epochs 30/60/90). The lr is
# the ImageNet one, not rescaled to the smaller batch (the paper keeps the
# ImageNet settings); use --auto-scale-lr for a linear rescale.
# Data: the authors' split, 100 classes (see ../_base_/datasets/
# mini_imagenet_bs32.py for the folder layout and where to get it).
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    '../_base_/datasets/mini_imagenet_bs32.py',
    'mmpretrain::_base_/schedules/imagenet_bs256.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmgc'], allow_failed_imports=False)

model = dict(head=dict(num_classes=100))
