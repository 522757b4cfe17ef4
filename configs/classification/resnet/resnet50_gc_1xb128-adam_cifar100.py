# GC twin of resnet50_1xb128-adam_cifar100.py: the optimizer is Adam_GCC (Adam
# with GC on the conv gradients before the moments, the paper's Algorithm 2);
# same hyper-parameters, nothing else changes. On CIFAR-100 the paper applies
# GC to the conv layers only (section 5.3).
_base_ = './resnet50_1xb128-adam_cifar100.py'
optim_wrapper = dict(optimizer=dict(type='Adam_GCC'))
