# Paper row: CIFAR-100 (Table 2), ResNet50 with AdamW (GC twin:
# resnet50_gc_1xb128-adamw_cifar100.py); the accuracies are in the paper's
# Table 2.
# resnet50_1xb128_cifar100.py with the paper's AdamW settings (section 5.3):
# lr 0.001 x0.1 every 60 epochs, decoupled weight decay 1e-3, PyTorch's
# defaults for the rest (betas 0.9/0.999, eps 1e-8).
# The baseline is torch's AdamW (decay w *= 1 - lr * wd), as mmgc's GCAdamW
# with GC off. The paper ran the 2019 AdamW of the authors' code (decay scaled
# by the step size lr * sqrt(1 - b2^t) / (1 - b1^t), eps outside the bias
# correction), which mmgc has only with GC (AdamW_GCC); a pair of AdamW and
# AdamW_GCC would differ in the decay too, so both sides here use torch's
# AdamW and the twin adds GC only.
_base_ = './resnet50_1xb128_cifar100.py'

optim_wrapper = dict(
    optimizer=dict(
        _delete_=True,
        type='GCAdamW',
        lr=0.001,
        weight_decay=1e-3,
        use_gc=False))
