# DINO-4scale trained from scratch on the built-in toy dataset with DINO's
# recipe (AdamW, backbone at a tenth of the learning rate, gradient clipping).
# Baseline of the toy DINO GC comparison:
#   python tools/generate_toy_data.py
#   python tools/compare.py configs/toy/dino-4scale_toy-r18_1xb8-12e_toycoco.py \
#       configs/toy/dino-4scale_toy-r18_gc_1xb8-12e_toycoco.py --seeds 0 1 2
_base_ = [
    '../_base_/models/dino-4scale_toy-r18.py',
    '../_base_/datasets/toy_coco_detection.py',
    '../_base_/schedules/toy_dino.py',
    '../_base_/toy_runtime.py',
]
