# The paper's CIFAR-100 schedule (section 5.3): 200 epochs, initial lr 0.1
# multiplied by 0.1 every 60 epochs, SGD momentum 0.9, weight decay 5e-4.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[60, 120, 180], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=200, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=128)
