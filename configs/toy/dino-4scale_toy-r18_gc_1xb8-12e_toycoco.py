# GC twin of dino-4scale_toy-r18_1xb8-12e_toycoco.py, with the GC settings of
# configs/dino/dino-4scale_r50_gc_8xb2-12e_coco.py: GCAdamW with GC on the
# update, the attention and FFN projections and every conv centralized; the
# query and denoising-label embeddings, the level embedding and the sampling
# offsets left alone. The backbone's lr_mult and the clipping stay as they
# are; nothing else changes.
_base_ = './dino-4scale_toy-r18_1xb8-12e_toycoco.py'
optim_wrapper = dict(
    constructor='GCOptimWrapperConstructor',
    optimizer=dict(type='GCAdamW', gc_loc='update'),
    paramwise_cfg=dict(
        gc_exclude_module_types=['Embedding'],
        custom_keys={
            'level_embed': dict(use_gc=False),
            'sampling_offsets': dict(use_gc=False),
        }))
