# mmdet's runtime with logging and checkpoints sized for short CPU runs.
_base_ = 'mmdet::_base_/default_runtime.py'
custom_imports = dict(imports=['mmgc'], allow_failed_imports=False)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    # Written atomically: a run killed while saving keeps its previous
    # checkpoint (mmengine's CheckpointHook deletes it first).
    checkpoint=dict(type='AtomicCheckpointHook', interval=1,
                    max_keep_ckpts=1))
# Each epoch reseeded from (seed, epoch), so --resume continues exactly; ranks
# that built different optimizers stop before training.
custom_hooks = [
    dict(type='RandomStateHook'),
    dict(type='OptimizerConsistencyHook'),
]
log_processor = dict(window_size=10)
# A fixed seed makes a toy run repeatable; tools/compare.py sets its own.
randomness = dict(seed=0)
