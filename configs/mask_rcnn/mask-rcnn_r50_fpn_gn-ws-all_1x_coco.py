# Paper row "R50GN+WS": Mask R-CNN R50 FPN with GroupNorm (32 groups) and
# Weight Standardization (ConvWS) in the backbone, neck and heads (a
# Shared4Conv1FC box head), backbone initialised from the GN+WS-pretrained
# ResNet-50.
# mmdet ships this Mask R-CNN only with 2x and 20-23-24e schedules. Its 2x
# config (gn+ws/mask-rcnn_r50_fpn_gn-ws-all_2x_coco.py) is mmdet's R50 1x
# Mask R-CNN plus the model settings below plus a 2x schedule; here the same
# model settings sit on the 1x config, so this is that model on the paper's
# 1x schedule (12 epochs, steps at 8 and 11). mmengine cannot inherit
# 'mmdet::gn+ws/...' directly: its package-path check rejects the '+'.
_base_ = './mask-rcnn_r50_fpn_1x_coco.py'
conv_cfg = dict(type='ConvWS')
norm_cfg = dict(type='GN', num_groups=32, requires_grad=True)
model = dict(
    backbone=dict(
        conv_cfg=conv_cfg,
        norm_cfg=norm_cfg,
        init_cfg=dict(
            type='Pretrained', checkpoint='open-mmlab://jhu/resnet50_gn_ws')),
    neck=dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg),
    roi_head=dict(
        bbox_head=dict(
            type='Shared4Conv1FCBBoxHead',
            conv_out_channels=256,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg),
        mask_head=dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg)))
