# GC twin of resnet50_1xb128-adagrad_cifar100.py: the optimizer is Adagrad_GCC
# (Adagrad with GC on conv layers); same hyper-parameters, nothing else
# changes. On CIFAR-100 the paper applies GC to the conv layers only (section
# 5.3).
_base_ = './resnet50_1xb128-adagrad_cifar100.py'
optim_wrapper = dict(optimizer=dict(type='Adagrad_GCC'))
