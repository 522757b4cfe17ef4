# GC twin of resnet50_4xb64_stanford-dogs.py: the optimizer is SGD_GC (GC on
# conv and fc layers, the paper's default); same lr, momentum, weight decay and
# per-layer lr, nothing else changes.
_base_ = './resnet50_4xb64_stanford-dogs.py'
optim_wrapper = dict(optimizer=dict(type='SGD_GC'))
