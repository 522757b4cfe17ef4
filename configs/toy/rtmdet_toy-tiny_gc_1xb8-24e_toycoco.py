# GC twin of rtmdet_toy-tiny_1xb8-24e_toycoco.py: AdamW becomes GCAdamW with
# GC on the update (gc_loc='update', the authors' advice for adaptive
# optimizers), built by GCOptimWrapperConstructor so that RTMDet's
# paramwise_cfg (no decay on norms and biases, bypass_duplicate) applies as
# before. Every conv weight is centralized; nothing else changes.
_base_ = './rtmdet_toy-tiny_1xb8-24e_toycoco.py'
optim_wrapper = dict(
    constructor='GCOptimWrapperConstructor',
    optimizer=dict(type='GCAdamW', gc_loc='update'))
