# GC twin of resnet18-w16_1xb64-adam_mnist5k.py: the optimizer is Adam_GC
# (GC on the conv and fc gradients before the moments, the paper's
# Algorithm 2); same hyper-parameters, nothing else changes.
_base_ = './resnet18-w16_1xb64-adam_mnist5k.py'
optim_wrapper = dict(optimizer=dict(type='Adam_GC'))
