# Paper row: CIFAR-100 (Table 1), ResNet50 with Adagrad, test accuracy 70.34
# w/o GC -> 71.58 w/ GC (GC twin: resnet50_gc_1xb128-adagrad_cifar100.py).
# resnet50_1xb128_cifar100.py with the paper's Adagrad settings (section
# 5.3): lr 0.01 x0.1 every 60 epochs, weight decay 5e-4, PyTorch's defaults
# for the rest.
_base_ = './resnet50_1xb128_cifar100.py'

optim_wrapper = dict(
    optimizer=dict(
        _delete_=True, type='Adagrad', lr=0.01, weight_decay=5e-4))
