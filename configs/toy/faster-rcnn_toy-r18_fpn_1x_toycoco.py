# Faster R-CNN trained from scratch on the built-in toy dataset; runs on a
# laptop CPU in minutes. Baseline of the toy GC comparison:
#   python tools/generate_toy_data.py
#   python tools/compare.py configs/toy/faster-rcnn_toy-r18_fpn_1x_toycoco.py \
#       configs/toy/faster-rcnn_toy-r18_fpn_gc_1x_toycoco.py
_base_ = [
    '../_base_/models/faster-rcnn_toy-r18_fpn.py',
    '../_base_/datasets/toy_coco_detection.py',
    '../_base_/schedules/toy_1x.py',
    '../_base_/toy_runtime.py',
]
