"""The BNNeck head of the ReID strong baseline (Luo et al., CVPRW 2019)."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmengine.structures import LabelData

TEST_FEATURES = ('after_bn', 'before_bn')


class BNNeckHead(BaseModule):
    """BNNeck: metric losses before the BatchNorm, identity loss after it.

    ``pooled feature f -> BatchNorm1d (bias frozen at 0) -> f_bn -> Linear
    without bias -> identity logits``. Training applies the triplet (and the
    optional centre) loss to ``f`` and the label-smoothed cross entropy to the
    logits. Inference returns ``f_bn`` (or ``f`` with
    ``test_feature='before_bn'``), stored as ``pred_feature``.

    Args:
        in_channels (int): Size of the pooled feature (2048 for ResNet-50).
        num_classes (int): Number of training identities.
        loss_cls (dict): Identity loss on the logits, e.g.
            ``dict(type='mmpretrain.LabelSmoothLoss', label_smooth_val=0.1)``.
        loss_triplet (dict, optional): Loss on ``f``, e.g.
            ``dict(type='TripletLoss', margin=0.3)``.
        loss_center (dict, optional): ``dict(type='CenterLoss', ...)``;
            ``num_classes`` and ``feat_dim`` are filled in from this head.
        test_feature (str): ``'after_bn'`` (the baseline) or ``'before_bn'``.
        init_cfg (dict | list[dict], optional): Defaults to the baseline's:
            BN weight 1, classifier weights N(0, 0.001).
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 loss_cls: dict,
                 loss_triplet: Optional[dict] = None,
                 loss_center: Optional[dict] = None,
                 test_feature: str = 'after_bn',
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        if init_cfg is None:
            init_cfg = [
                dict(type='Normal', layer='Linear', std=0.001),
                dict(type='Constant', layer='BatchNorm1d', val=1, bias=0)
            ]
        super().__init__(init_cfg=init_cfg)
        # Imported here so that importing mmgc does not import mmdet.
        from mmdet.registry import MODELS

        if test_feature not in TEST_FEATURES:
            raise ValueError(f'BNNeckHead: test_feature={test_feature!r} is '
                             f'not one of {TEST_FEATURES}.')
        if in_channels < 1 or num_classes < 1:
            raise ValueError(
                f'BNNeckHead: in_channels ({in_channels}) and num_classes '
                f'({num_classes}) must be positive.')
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.test_feature = test_feature

        self.bn = nn.BatchNorm1d(in_channels)
        # The BNNeck keeps a zero shift so the post-BN feature stays centred
        # for the cosine ranking at test time.
        self.bn.bias.requires_grad_(False)
        self.classifier = nn.Linear(in_channels, num_classes, bias=False)

        self.loss_cls = MODELS.build(loss_cls)
        self.loss_triplet = (
            MODELS.build(loss_triplet) if loss_triplet else None)
        if loss_center:
            loss_center = dict(
                loss_center, num_classes=num_classes, feat_dim=in_channels)
            self.loss_center = MODELS.build(loss_center)
        else:
            self.loss_center = None

    @staticmethod
    def _pooled(feats: Union[torch.Tensor, Tuple[torch.Tensor]]):
        # Necks return one tensor per backbone stage; the last is the feature.
        feat = feats[-1] if isinstance(feats, (tuple, list)) else feats
        if feat.dim() != 2:
            raise ValueError(
                'BNNeckHead expects pooled features of shape (N, C); got '
                f'{tuple(feat.shape)}. Put a GlobalAveragePooling neck '
                'between the backbone and the head.')
        return feat

    def forward(self, feats) -> torch.Tensor:
        """The inference feature (``test_feature``) of each image."""
        feat = self._pooled(feats)
        if self.test_feature == 'before_bn':
            return feat
        return self.bn(feat)

    def loss(self, feats, data_samples: Sequence) -> dict:
        feat = self._pooled(feats)
        labels = torch.cat([_label_of(s) for s in data_samples]).to(
            feat.device)
        if labels.numel() != feat.size(0):
            raise ValueError('BNNeckHead needs exactly one gt_label per '
                             f'image; got {labels.numel()} labels for '
                             f'{feat.size(0)} images.')
        if labels.min() < 0 or labels.max() >= self.num_classes:
            raise ValueError(
                f'BNNeckHead: label {int(labels.max())} is outside '
                f'0..{self.num_classes - 1}; set model.head.num_classes to '
                "the number of training identities (the train dataset's "
                "metainfo['num_ids']).")
        logits = self.classifier(self.bn(feat))
        losses = dict(loss_cls=self.loss_cls(logits, labels))
        if self.loss_triplet is not None:
            losses['loss_triplet'] = self.loss_triplet(feat, labels)
        if self.loss_center is not None:
            losses['loss_center'] = self.loss_center(feat, labels)
        with torch.no_grad():
            losses['train_acc'] = (logits.argmax(1) == labels).float().mean()
        return losses

    def predict(self, feats, data_samples: Optional[Sequence] = None) -> list:
        """Store each image's inference feature as ``pred_feature``."""
        features = self(feats).detach()
        if data_samples is None:
            from mmdet.structures import ReIDDataSample
            data_samples = [ReIDDataSample() for _ in range(len(features))]
        for data_sample, feature in zip(data_samples, features):
            data_sample.pred_feature = feature
        return list(data_samples)


def _label_of(data_sample) -> torch.Tensor:
    # mmpretrain's DataSample holds a tensor, mmdet's ReIDDataSample a
    # LabelData; accept both.
    label = data_sample.gt_label
    if isinstance(label, LabelData):
        label = label.label
    return torch.as_tensor(label).view(-1).long()
