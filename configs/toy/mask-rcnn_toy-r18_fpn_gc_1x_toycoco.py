# GC twin of mask-rcnn_toy-r18_fpn_1x_toycoco.py: the optimizer is SGD_GC
# (same lr, momentum and weight decay); nothing else changes.
_base_ = './mask-rcnn_toy-r18_fpn_1x_toycoco.py'
optim_wrapper = dict(optimizer=dict(type='SGD_GC'))
