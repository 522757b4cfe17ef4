# GC twin of resnet50_4xb64_in1k.py: the optimizer is SGD_GCC, SGD with GC on
# the conv layers, as the paper ran ImageNet (section 5.4); same lr, momentum
# and weight decay, nothing else changes.
_base_ = './resnet50_4xb64_in1k.py'
optim_wrapper = dict(optimizer=dict(type='SGD_GCC'))
