# mmpretrain's runtime with logging and checkpoints sized for short CPU runs.
_base_ = 'mmpretrain::_base_/default_runtime.py'
custom_imports = dict(imports=['mmgc'], allow_failed_imports=False)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=4),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=1))
log_processor = dict(window_size=4)
# A fixed seed makes a toy run repeatable; tools/compare.py sets its own.
randomness = dict(seed=0)
