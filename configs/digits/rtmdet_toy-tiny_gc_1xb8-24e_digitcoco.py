# GC twin of rtmdet_toy-tiny_1xb8-24e_digitcoco.py: GCAdamW with GC on the
# update through GCOptimWrapperConstructor, as in the toy RTMDet pair;
# nothing else changes.
_base_ = './rtmdet_toy-tiny_1xb8-24e_digitcoco.py'
optim_wrapper = dict(
    constructor='GCOptimWrapperConstructor',
    optimizer=dict(type='GCAdamW', gc_loc='update'))
