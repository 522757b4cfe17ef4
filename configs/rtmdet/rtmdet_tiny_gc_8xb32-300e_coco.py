# GC twin of rtmdet_tiny_8xb32-300e_coco.py: AdamW becomes GCAdamW with GC on
# the update (gc_loc='update', the authors' advice for adaptive optimizers),
# built by GCOptimWrapperConstructor, which applies mmdet's paramwise_cfg
# (norm_decay_mult=0, bias_decay_mult=0, bypass_duplicate=True) exactly as
# mmengine's constructor does. Every conv weight is centralized; norms and
# biases are one-dimensional and never are. Nothing else changes.
_base_ = './rtmdet_tiny_8xb32-300e_coco.py'
optim_wrapper = dict(
    constructor='GCOptimWrapperConstructor',
    optimizer=dict(type='GCAdamW', gc_loc='update'))
