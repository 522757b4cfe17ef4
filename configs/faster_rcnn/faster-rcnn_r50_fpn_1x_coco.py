# Paper baseline: Faster R-CNN, ResNet-50 (frozen stage 1, BN in eval mode),
# FPN, 1x schedule (SGD lr 0.02, momentum 0.9, wd 1e-4, 8 GPUs x 2 images).
# mmdet's own config, unchanged; mmgc is imported so that this baseline and
# its GC twin load the same plugins and differ only in the optimizer.
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmgc'], allow_failed_imports=False)
