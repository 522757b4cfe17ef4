# Mask R-CNN sized for the toy dataset, from scratch on a CPU: the model of
# faster-rcnn_toy-r18_fpn.py (narrow ResNet-18, 64-channel FPN) plus a
# 64-channel mask head.
_base_ = 'mmdet::_base_/models/mask-rcnn_r50_fpn.py'
model = dict(
    backbone=dict(
        depth=18,
        base_channels=32,
        frozen_stages=-1,
        norm_eval=False,
        init_cfg=None),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=64),
    rpn_head=dict(
        in_channels=64, feat_channels=64, anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64, finest_scale=14),
        bbox_head=dict(in_channels=64, fc_out_channels=256, num_classes=4),
        mask_roi_extractor=dict(out_channels=64, finest_scale=14),
        mask_head=dict(in_channels=64, conv_out_channels=64, num_classes=4)),
    # A few objects per image need few proposals and sampled RoIs; RoIAlign
    # backward and NMS dominate a CPU step otherwise.
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=300, max_per_img=150),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=300)))
