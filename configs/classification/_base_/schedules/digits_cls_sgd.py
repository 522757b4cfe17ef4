# The CIFAR recipe's shape, short enough for a CPU: SGD momentum 0.9, lr 0.1,
# weight decay 5e-4, 3 epochs of 63 iterations (4,000 digits, batch 64), lr
# x0.1 for the last epoch.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[2], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=3, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=64)
