# Baseline: RTMDet-tiny (CSPNeXt, 8 GPUs x 32 images, 300 epochs, AdamW lr
# 0.004, weight decay 0.05 except on norms and biases, flat-cosine schedule,
# EMA). mmdet's own config, unchanged; mmgc is imported so that this baseline
# and its GC twin load the same plugins and differ only in the optimizer.
_base_ = 'mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py'
custom_imports = dict(imports=['mmgc'], allow_failed_imports=False)
