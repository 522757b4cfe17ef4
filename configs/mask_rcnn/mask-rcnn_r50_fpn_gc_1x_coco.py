# GC twin of mask-rcnn_r50_fpn_1x_coco.py: the optimizer is SGD_GC (same lr,
# momentum and weight decay); nothing else changes.
_base_ = './mask-rcnn_r50_fpn_1x_coco.py'
optim_wrapper = dict(optimizer=dict(type='SGD_GC'))
