# RTMDet-tiny trained from scratch on the built-in toy dataset with RTMDet's
# recipe (AdamW, no decay on norms and biases, flat-cosine schedule, EMA).
# Baseline of the toy RTMDet GC comparison:
#   python tools/generate_toy_data.py
#   python tools/compare.py configs/toy/rtmdet_toy-tiny_1xb8-24e_toycoco.py \
#       configs/toy/rtmdet_toy-tiny_gc_1xb8-24e_toycoco.py --seeds 0 1 2
_base_ = [
    '../_base_/models/rtmdet_toy-tiny.py',
    '../_base_/datasets/toy_coco_detection.py',
    '../_base_/schedules/toy_rtmdet.py',
    '../_base_/toy_runtime_rtmdet.py',
]
