# Paper row: CIFAR-100 (Table 1), ResNet101 with SGDM (GC twin:
# resnet101_gc_1xb128_cifar100.py); the accuracies are in the paper's Table 1.
# The paper's recipe (section 5.3): 200 epochs on one GPU, batch 128, SGD
# momentum 0.9, lr 0.1 x0.1 every 60 epochs, weight decay 5e-4.
# CIFAR-sized network: mmpretrain's ResNet_CIFAR (3x3 stem conv with stride 1,
# no max pooling) with 101 layers.
_base_ = [
    'mmpretrain::_base_/models/resnet101_cifar.py',
    '../_base_/datasets/cifar100_bs128.py',
    '../_base_/schedules/cifar100_sgd_200e.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmgc'], allow_failed_imports=False)

model = dict(head=dict(num_classes=100, topk=(1, 5)))
