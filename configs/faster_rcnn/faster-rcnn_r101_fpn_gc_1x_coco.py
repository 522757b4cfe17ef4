# GC twin of faster-rcnn_r101_fpn_1x_coco.py: only the optimizer differs.
_base_ = './faster-rcnn_r101_fpn_1x_coco.py'
optim_wrapper = dict(optimizer=dict(type='SGD_GC'))
