# Faster R-CNN R50 FPN 1x with automatic mixed precision (AmpOptimWrapper,
# dynamic loss scale); mmdet's config. Not a paper row: it shows GC under AMP.
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_amp-1x_coco.py'
custom_imports = dict(imports=['mmgc'], allow_failed_imports=False)
