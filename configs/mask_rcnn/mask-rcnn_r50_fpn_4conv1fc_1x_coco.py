# Paper row "R50 (4c1f)": Mask R-CNN R50 FPN 1x whose box head has four
# shared 3x3 convs and one fc (Shared4Conv1FCBBoxHead) instead of two fcs.
# mmdet has no such BN config (its 4conv1fc heads come with GN or SyncBN), so
# this is mmdet's R50 1x config with only the box head swapped; the head has
# no normalization, like the rest of the frozen-BN model.
_base_ = './mask-rcnn_r50_fpn_1x_coco.py'
model = dict(
    roi_head=dict(
        bbox_head=dict(
            type='Shared4Conv1FCBBoxHead', conv_out_channels=256)))
