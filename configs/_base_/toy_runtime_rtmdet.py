# The toy runtime plus RTMDet's exponential-momentum EMA of the weights
# (mmdet's RTMDet configs; validation and test use the averaged weights).
_base_ = './toy_runtime.py'
custom_hooks = _base_.custom_hooks + [
    dict(
        type='EMAHook',
        ema_type='ExpMomentumEMA',
        momentum=0.0002,
        update_buffers=True,
        priority=49),
]
