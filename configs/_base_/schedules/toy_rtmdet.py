# RTMDet's recipe (mmdet's rtmdet_l_8xb32-300e_coco.py) on the toy schedule:
# AdamW lr 0.004, weight decay 0.05 except on norms and biases, shared
# parameters optimized once, linear warm-up, then a flat learning rate for
# the first half and a cosine decay to 5% over the second half. mmdet warms
# up over 1000 iterations of 300 epochs; here 100 iterations (2 epochs).
max_epochs = 24
base_lr = 0.004
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=4)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=base_lr, weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0, bias_decay_mult=0, bypass_duplicate=True))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1.0e-5,
        by_epoch=False,
        begin=0,
        end=100),
    dict(
        type='CosineAnnealingLR',
        eta_min=base_lr * 0.05,
        begin=max_epochs // 2,
        end=max_epochs,
        T_max=max_epochs // 2,
        by_epoch=True,
        convert_to_iter_based=True),
]
auto_scale_lr = dict(enable=False, base_batch_size=8)
