# ResNet-18 trained from scratch on the built-in toy classification dataset;
# one CPU core trains it in 1.5 to 3 minutes. Baseline of the toy GC
# comparison (GC twin: resnet18-w16_gc_1xb64_toycls.py), a small stand-in for
# the paper's CIFAR-100 ResNet18 row:
#   python tools/generate_toy_cls.py
#   python tools/compare.py configs/classification/toy/resnet18-w16_1xb64_toycls.py \
#       configs/classification/toy/resnet18-w16_gc_1xb64_toycls.py
# The network (_base_/models/resnet18-w16_cifar.py) is mmpretrain's CIFAR
# ResNet-18 (ResNet_CIFAR) at a quarter of the width (16/32/64/128 channels,
# "w16"), which keeps CPU time low.
_base_ = [
    '../_base_/datasets/toy_cls_bs64.py',
    '../_base_/schedules/toy_cls_sgd.py',
    '../_base_/toy_cls_runtime.py',
    '../_base_/models/resnet18-w16_cifar.py',
]
