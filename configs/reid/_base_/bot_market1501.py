# The ReID strong baseline (BoT, Luo et al. 2019) on Market-1501: data,
# augmentations, evaluation, schedule and runtime. The model and the
# optimizer are set by the configs in configs/reid/.
_base_ = 'mmdet::_base_/default_runtime.py'

# mmgc.reid says what to install when the mmdet has no ReID models (< 3.1).
custom_imports = dict(
    imports=['mmgc', 'mmgc.reid'], allow_failed_imports=False)

dataset_type = 'Market1501Dataset'
data_root = 'data/market1501/'
image_size = (256, 128)  # (height, width)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_size[::-1], keep_ratio=False),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mmpretrain.RandomCrop', crop_size=image_size, padding=10),
    # Images are BGR until the data preprocessor, so the ImageNet mean fill
    # is written B, G, R.
    dict(
        type='mmpretrain.RandomErasing',
        erase_prob=0.5,
        min_area_ratio=0.02,
        max_area_ratio=0.4,
        aspect_range=(0.3, 1 / 0.3),
        mode='const',
        fill_color=(103.53, 116.28, 123.675)),
    dict(type='mmpretrain.PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_size[::-1], keep_ratio=False),
    # The metric needs each image's person, camera and query/gallery role.
    dict(
        type='mmpretrain.PackInputs',
        meta_keys=('sample_idx', 'img_path', 'pid', 'camid', 'is_query')),
]

train_dataloader = dict(
    batch_size=64,  # P x K = 16 identities x 4 images
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='PKBatchSampler', num_instances=4),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# Euclidean distance of L2-normalised post-BN features, i.e. cosine ranking.
val_evaluator = dict(
    type='QueryGalleryReIDMetric', distance='cosine', ranks=(1, 5, 10))
test_evaluator = val_evaluator

# 120 epochs, lr x0.1 at epochs 40 and 70, linear warm-up over the first
# 10 epochs from 1% of the base lr; all stepped once per epoch.
max_epochs = 120
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=40)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=10),
    dict(
        type='MultiStepLR',
        by_epoch=True,
        begin=0,
        end=max_epochs,
        milestones=[40, 70],
        gamma=0.1),
]

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', interval=40))
