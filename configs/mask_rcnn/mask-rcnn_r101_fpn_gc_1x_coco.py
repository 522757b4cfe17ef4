# GC twin of mask-rcnn_r101_fpn_1x_coco.py: only the optimizer differs.
_base_ = './mask-rcnn_r101_fpn_1x_coco.py'
optim_wrapper = dict(optimizer=dict(type='SGD_GC'))
