# GC twin of dino-4scale_r50_8xb2-12e_coco.py: AdamW becomes GCAdamW with GC
# on the update (gc_loc='update', the authors' advice for adaptive
# optimizers), built by GCOptimWrapperConstructor, which keeps mmdet's
# paramwise_cfg (backbone lr_mult 0.1) and clipping. Centralized: every conv
# and every linear projection (attention q/k/v and output, deformable
# attention's value, output and attention-weight projections, FFNs, the
# heads). Left alone, each for a reason given in docs/en/detection.md:
# the learned query and denoising-label embeddings (Embedding), the level
# embedding, and the sampling offsets of deformable attention. Norm weights
# and biases are one-dimensional and never centralized.
_base_ = './dino-4scale_r50_8xb2-12e_coco.py'
optim_wrapper = dict(
    constructor='GCOptimWrapperConstructor',
    optimizer=dict(type='GCAdamW', gc_loc='update'),
    paramwise_cfg=dict(
        gc_exclude_module_types=['Embedding'],
        custom_keys={
            'level_embed': dict(use_gc=False),
            'sampling_offsets': dict(use_gc=False),
        }))
