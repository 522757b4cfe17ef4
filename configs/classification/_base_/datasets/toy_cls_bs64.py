# The built-in toy classification dataset (python tools/generate_toy_cls.py
# writes data/toy_cls/): 32x32 images of ten classes (five shapes, filled or
# outlined) in ImageNet's folder layout, read by mmpretrain's ImageNet class.
# CIFAR-style augmentation: 4-pixel padding + random crop, horizontal flip.
dataset_type = 'ImageNet'
data_root = 'data/toy_cls'
classes = ('cross', 'cross-outline', 'ellipse', 'ellipse-outline',
           'rectangle', 'rectangle-outline', 'star', 'star-outline',
           'triangle', 'triangle-outline')
data_preprocessor = dict(
    num_classes=10,
    mean=[127.5, 127.5, 127.5],
    std=[64.0, 64.0, 64.0],
    to_rgb=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs'),
]
# Small images load in microseconds: worker processes would only compete
# with training for the CPU cores.
train_dataloader = dict(
    batch_size=64,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        metainfo=dict(classes=classes),
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=100,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        metainfo=dict(classes=classes),
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
