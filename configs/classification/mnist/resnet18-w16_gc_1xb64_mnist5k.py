# GC twin of resnet18-w16_1xb64_mnist5k.py: the optimizer is SGD_GC (GC on
# conv and fc layers); same lr, momentum and weight decay, nothing else
# changes.
_base_ = './resnet18-w16_1xb64_mnist5k.py'
optim_wrapper = dict(optimizer=dict(type='SGD_GC'))
