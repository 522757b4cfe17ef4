# GC twin of resnext29-4x64d_1xb128_cifar100.py: the optimizer is SGD_GCC (SGD
# with GC on conv layers); same hyper-parameters, nothing else changes. On
# CIFAR-100 the paper applies GC to the conv layers only (section 5.3).
_base_ = './resnext29-4x64d_1xb128_cifar100.py'
optim_wrapper = dict(optimizer=dict(type='SGD_GCC'))
