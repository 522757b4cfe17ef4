# RTMDet-tiny trained from scratch on real handwritten digits (the toy
# RTMDet's model, recipe and schedule; only the dataset and the ten classes
# differ). Baseline of the digit-detection RTMDet GC comparison:
#   python tools/generate_digits_coco.py
#   python tools/compare.py configs/digits/rtmdet_toy-tiny_1xb8-24e_digitcoco.py \
#       configs/digits/rtmdet_toy-tiny_gc_1xb8-24e_digitcoco.py --seeds 0 1 2
_base_ = [
    '../_base_/models/rtmdet_toy-tiny.py',
    '../_base_/datasets/digits_coco_detection.py',
    '../_base_/schedules/toy_rtmdet.py',
    '../_base_/toy_runtime_rtmdet.py',
]
model = dict(bbox_head=dict(num_classes=10))
