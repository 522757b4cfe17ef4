# Mask R-CNN trained from scratch on the built-in toy dataset; runs on a
# laptop CPU in minutes. Baseline of the toy GC comparison:
#   python tools/generate_toy_data.py
#   python tools/compare.py configs/toy/mask-rcnn_toy-r18_fpn_1x_toycoco.py \
#       configs/toy/mask-rcnn_toy-r18_fpn_gc_1x_toycoco.py
_base_ = [
    '../_base_/models/mask-rcnn_toy-r18_fpn.py',
    '../_base_/datasets/toy_coco_instance.py',
    '../_base_/schedules/toy_1x.py',
    '../_base_/toy_runtime.py',
]
