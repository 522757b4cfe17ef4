# Faster R-CNN sized for the toy dataset (128x128 images, objects of 14-60
# pixels, 4 classes) and for training from scratch on a CPU: a narrow
# ResNet-18 (stage widths 32-256 instead of 64-512) with BatchNorm that
# trains, a 64-channel FPN, a light box head, and fewer proposals and RoIs.
_base_ = 'mmdet::_base_/models/faster-rcnn_r50_fpn.py'
model = dict(
    backbone=dict(
        depth=18,
        base_channels=32,
        frozen_stages=-1,
        norm_eval=False,
        init_cfg=None),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=64),
    rpn_head=dict(
        in_channels=64,
        feat_channels=64,
        # Anchors of 16-256 pixels on strides 4-64 cover the toy objects.
        anchor_generator=dict(scales=[4])),
    roi_head=dict(
        # RoIs of 14-28 pixels pool from stride 4, 28-56 from stride 8, ...
        bbox_roi_extractor=dict(out_channels=64, finest_scale=14),
        bbox_head=dict(in_channels=64, fc_out_channels=256, num_classes=4)),
    # A few objects per image need few proposals and sampled RoIs; RoIAlign
    # backward and NMS dominate a CPU step otherwise.
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=300, max_per_img=150),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=300)))
