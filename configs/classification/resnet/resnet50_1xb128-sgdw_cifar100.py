# Paper row: CIFAR-100 (Table 2), ResNet50 with SGDW (GC twin:
# resnet50_gc_1xb128-sgdw_cifar100.py); the accuracies are in the paper's
# Table 2.
# resnet50_1xb128_cifar100.py with the paper's SGDW settings (section 5.3):
# SGD momentum 0.9, lr 0.1 x0.1 every 60 epochs, decoupled weight decay 1e-3
# (after the step, w -= lr * wd * w_old, in place of L2 decay).
# The baseline is the authors' SGDW without GC: mmgc's GCSGD with GC off and
# decoupled decay. (torch has no SGDW; the GC twin switches GC on in the same
# optimizer, so that the pair differs only in GC.)
_base_ = './resnet50_1xb128_cifar100.py'

optim_wrapper = dict(
    optimizer=dict(
        _delete_=True,
        type='GCSGD',
        lr=0.1,
        momentum=0.9,
        weight_decay=1e-3,
        decoupled_weight_decay=True,
        use_gc=False))
