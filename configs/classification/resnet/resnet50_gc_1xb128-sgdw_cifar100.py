# GC twin of resnet50_1xb128-sgdw_cifar100.py: the same GCSGD with GC switched
# on for the conv layers (use_gc, gc_conv_only), which is the paper's SGDW_GCC
# update exactly (SGDW_GCC is GCSGD with these options fixed); same
# hyper-parameters, nothing else changes. The optimizer keeps its type so
# that the pair differs only in GC options. On CIFAR-100 the paper applies GC
# to the conv layers only (section 5.3).
_base_ = './resnet50_1xb128-sgdw_cifar100.py'
optim_wrapper = dict(optimizer=dict(use_gc=True, gc_conv_only=True))
