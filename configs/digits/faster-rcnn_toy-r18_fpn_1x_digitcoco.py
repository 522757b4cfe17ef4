# Faster R-CNN trained from scratch on real handwritten digits (the toy
# pair's model and schedule; only the dataset and the ten classes differ).
# Baseline of the digit-detection GC comparison:
#   python tools/generate_digits_coco.py
#   python tools/compare.py configs/digits/faster-rcnn_toy-r18_fpn_1x_digitcoco.py \
#       configs/digits/faster-rcnn_toy-r18_fpn_gc_1x_digitcoco.py \
#       --seeds 0 1 2 --jobs 2
_base_ = [
    '../_base_/models/faster-rcnn_toy-r18_fpn.py',
    '../_base_/datasets/digits_coco_detection.py',
    '../_base_/schedules/toy_1x.py',
    '../_base_/toy_runtime.py',
]
model = dict(roi_head=dict(bbox_head=dict(num_classes=10)))
