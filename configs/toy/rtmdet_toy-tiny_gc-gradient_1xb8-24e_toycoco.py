# rtmdet_toy-tiny_gc_1xb8-24e_toycoco.py with GC on the gradient before
# AdamW's moments (gc_loc='gradient') instead of on the update: the other
# place GCAdamW offers, measured beside the twin in docs/en/detection.md.
_base_ = './rtmdet_toy-tiny_gc_1xb8-24e_toycoco.py'
optim_wrapper = dict(optimizer=dict(gc_loc='gradient'))
