# Toy schedule in the shape of the CIFAR-100 recipe, shortened: SGD momentum
# 0.9, lr 0.1, weight decay 5e-4, lr x0.1 after epochs 10 and 13, 15 epochs
# of 16 iterations (1000 images, batch 64).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[10, 13], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=15, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=64)
