# GC twin of resnet50_1xb128-adamw_cifar100.py: the same GCAdamW with GC
# switched on for the conv gradients before the moments (use_gc,
# gc_conv_only, gc_loc='gradient'), where the paper's AdamW_GCC puts it; same
# hyper-parameters, nothing else changes. The optimizer keeps its type so that
# the pair differs only in GC options. On CIFAR-100 the paper applies GC to
# the conv layers only (section 5.3).
_base_ = './resnet50_1xb128-adamw_cifar100.py'
optim_wrapper = dict(
    optimizer=dict(use_gc=True, gc_conv_only=True, gc_loc='gradient'))
