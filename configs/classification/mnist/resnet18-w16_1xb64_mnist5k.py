# ResNet-18 trained from scratch on 4,000 real MNIST digits (validated on
# 1,000 others); one CPU core trains it in a few minutes. Baseline of the
# digit GC comparison (GC twin: resnet18-w16_gc_1xb64_mnist5k.py):
#   python tools/generate_digits_cls.py
#   python tools/compare.py configs/classification/mnist/resnet18-w16_1xb64_mnist5k.py \
#       configs/classification/mnist/resnet18-w16_gc_1xb64_mnist5k.py \
#       --seeds 0 1 2 3 4 --jobs 2
# The network is the toy pair's (_base_/models/resnet18-w16_cifar.py):
# mmpretrain's CIFAR ResNet-18 (3x3 stem, stride 1) at a quarter of the width
# (16/32/64/128 channels, "w16").
_base_ = [
    '../_base_/datasets/digits_cls_bs64.py',
    '../_base_/schedules/digits_cls_sgd.py',
    '../_base_/toy_cls_runtime.py',
    '../_base_/models/resnet18-w16_cifar.py',
]

# The paper's Figure 4 on digits: the largest absolute value and the L2 norm
# of the gradient of the first conv and the last fc layer (after GC in the GC
# run), every 8 iterations; tools/compare.py plots both runs' curves. The
# runtime's hooks are listed again: a list in a config replaces its base's.
custom_hooks = [
    dict(type='RandomStateHook'),
    dict(type='OptimizerConsistencyHook'),
    dict(type='GradientStatsHook', interval=8),
]
