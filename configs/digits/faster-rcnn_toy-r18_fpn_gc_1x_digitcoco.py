# GC twin of faster-rcnn_toy-r18_fpn_1x_digitcoco.py: the optimizer is SGD_GC
# (same lr, momentum and weight decay); nothing else changes.
_base_ = './faster-rcnn_toy-r18_fpn_1x_digitcoco.py'
optim_wrapper = dict(optimizer=dict(type='SGD_GC'))
