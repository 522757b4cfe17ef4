# DINO's recipe (mmdet's dino-4scale_r50_8xb2-12e_coco.py) on the toy
# schedule: AdamW with weight decay 1e-4, the backbone at a tenth of the
# learning rate, gradients clipped to norm 0.1, and one tenfold decay for
# the last of mmdet's 12 epochs. The toy backbone trains from
# scratch, so the learning rate is twice mmdet's 1e-4 (Deformable DETR's
# 2e-4).
max_epochs = 12
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=3)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.0002, weight_decay=0.0001),
    clip_grad=dict(max_norm=0.1, norm_type=2),
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1)}))
param_scheduler = [
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[max_epochs - 1],
        gamma=0.1)
]
auto_scale_lr = dict(enable=False, base_batch_size=8)
