# GC twin of faster-rcnn_x101-64x4d_fpn_1x_coco.py: only the optimizer differs.
_base_ = './faster-rcnn_x101-64x4d_fpn_1x_coco.py'
optim_wrapper = dict(optimizer=dict(type='SGD_GC'))
