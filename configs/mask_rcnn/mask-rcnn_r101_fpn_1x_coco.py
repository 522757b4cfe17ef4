# Paper baseline: Mask R-CNN, r101, FPN, 1x schedule; mmdet's config.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r101_fpn_1x_coco.py'
custom_imports = dict(imports=['mmgc'], allow_failed_imports=False)
