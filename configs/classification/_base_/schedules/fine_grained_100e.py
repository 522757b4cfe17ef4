# The paper's fine-tuning schedule (section 5.5): SGD with momentum 0.9 for
# 100 epochs; initial lr 0.01 for the pretrained layers and 0.1 for the new
# fc layer (lr_mult 10), both multiplied by 0.1 after epochs 50 and 80.
# The paper gives no weight decay; 1e-4 (PyTorch's ImageNet recipe) is used.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={'head.fc': dict(lr_mult=10.0)}))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[50, 80], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=256)
