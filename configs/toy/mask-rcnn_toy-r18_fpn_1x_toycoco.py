# Mask R-CNN trained from scratch on the built-in toy dataset; runs on a
# laptop CPU in minutes. Baseline of the toy GC comparison:
#   python tools/generate_toy_data.py
#   python tools/compare.py configs/toy/mask-rcnn_toy-r18_fpn_1x_toycoco.py \
#       configs/toy/mask-rcnn_toy-r18_fpn_gc_1x_toycoco.py
_base_ = [
    '../_base_/models/mask-rcnn_toy-r18_fpn.py',
    '../_base_/datasets/toy_coco_instance.py',
    'mmdet::_base_/default_runtime.py'
]
custom_imports = dict(imports=['mmgc'], allow_failed_imports=False)

max_epochs = 12
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# 50 iterations per epoch (400 images, batch 8).
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
        end=100),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[9, 11],
        gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001))
auto_scale_lr = dict(enable=False, base_batch_size=8)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=1))
log_processor = dict(window_size=10)
# A fixed seed makes a toy run repeatable; tools/compare.py sets its own.
randomness = dict(seed=0)
