# Paper baseline: Mask R-CNN, ResNet-50 (frozen stage 1, BN in eval mode),
# FPN, 1x schedule; mmdet's config, with mmgc imported (see the GC twin).
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmgc'], allow_failed_imports=False)
