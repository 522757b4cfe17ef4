# Paper baseline: Mask R-CNN, x101-32x4d, FPN, 1x schedule; mmdet's config.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_x101-32x4d_fpn_1x_coco.py'
custom_imports = dict(imports=['mmgc'], allow_failed_imports=False)
