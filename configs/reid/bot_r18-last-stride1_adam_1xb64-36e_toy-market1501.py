# The R18 strong baseline scaled down to the built-in toy dataset
# (python tools/generate_toy_reid.py -> data/toy_market1501/) so that it
# trains from scratch on a CPU in minutes: 64x32 images, ResNet-18 at half
# width, no ImageNet weights, 36 epochs with the 120-epoch schedule's
# shape. The GC twin is
# bot_r18-last-stride1_sgd-gcc_1xb64-36e_toy-market1501.py.
_base_ = './bot_r18-last-stride1_adam_1xb64-120e_market1501.py'

data_root = 'data/toy_market1501/'
image_size = (64, 32)  # (height, width); the toy images are 128x64
num_train_ids = 120  # tools/generate_toy_reid.py default

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_size[::-1], keep_ratio=False),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mmpretrain.RandomCrop', crop_size=image_size, padding=3),
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
    dict(
        type='mmpretrain.PackInputs',
        meta_keys=('sample_idx', 'img_path', 'pid', 'camid', 'is_query')),
]
train_dataloader = dict(
    num_workers=1,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=1,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

model = dict(
    backbone=dict(
        stem_channels=32,
        base_channels=32,  # stage widths 32-64-128-256
        init_cfg=None),  # from scratch: nothing to download
    head=dict(in_channels=256, num_classes=num_train_ids))

# The 120-epoch schedule divided by ~3.3: warm-up 3 epochs, lr x0.1 at 12, 21.
max_epochs = 36
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=3),
    dict(
        type='MultiStepLR',
        by_epoch=True,
        begin=0,
        end=max_epochs,
        milestones=[12, 21],
        gamma=0.1),
]
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_epochs))
