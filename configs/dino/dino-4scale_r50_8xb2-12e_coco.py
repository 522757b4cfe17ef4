# Baseline: DINO-4scale, ResNet-50, 12 epochs (8 GPUs x 2 images, AdamW lr
# 1e-4, weight decay 1e-4, backbone lr_mult 0.1, gradients clipped to norm
# 0.1). mmdet's own config, unchanged; mmgc is imported so that this baseline
# and its GC twin load the same plugins and differ only in the optimizer.
_base_ = 'mmdet::dino/dino-4scale_r50_8xb2-12e_coco.py'
custom_imports = dict(imports=['mmgc'], allow_failed_imports=False)
