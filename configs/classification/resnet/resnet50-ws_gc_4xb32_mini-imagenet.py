# GC twin of resnet50-ws_4xb32_mini-imagenet.py: the optimizer is SGD_GC (GC on
# conv and fc layers, the paper's default); same lr, momentum and weight decay,
# nothing else changes.
_base_ = './resnet50-ws_4xb32_mini-imagenet.py'
optim_wrapper = dict(optimizer=dict(type='SGD_GC'))
