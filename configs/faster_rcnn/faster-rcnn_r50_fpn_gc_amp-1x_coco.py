# GC twin of faster-rcnn_r50_fpn_amp-1x_coco.py. GC runs inside
# optimizer.step(), after the GradScaler has unscaled the gradients.
_base_ = './faster-rcnn_r50_fpn_amp-1x_coco.py'
optim_wrapper = dict(optimizer=dict(type='SGD_GC'))
