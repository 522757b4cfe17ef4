"""GCOptimWrapperConstructor on OpenMMLab models and optimizers: per-layer
GC on a real mmdet Faster R-CNN, GC for mmpretrain's LAMB. (The constructor's
own behaviour, which needs only mmengine, is in test_constructor.py.)"""
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from torch import nn

import mmgc  # noqa: F401  (registers the constructor and optimizers)
from _constructor_models import TinyNet, build_with_gc_constructor as build
from mmgc.optim import gc_rule_of
from mmgc.optim.gc_ops import centralize

pytestmark = [pytest.mark.detection, pytest.mark.classification]

FASTER_RCNN = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'


@pytest.fixture(scope='module')
def faster_rcnn(tmp_path_factory):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    config = tmp_path_factory.mktemp('cfg') / 'faster_rcnn.py'
    config.write_text(f"_base_ = '{FASTER_RCNN}'\n"
                      'model = dict(backbone=dict(init_cfg=None))\n')
    cfg = Config.fromfile(str(config))
    return MODELS.build(cfg.model)


def rules_by_name(model, optimizer):
    """{parameter name: gc_conv_only of its group, or None for no GC}."""
    names = {id(p): n for n, p in model.named_parameters()}
    rules = {}
    for group in optimizer.param_groups:
        assert len(group['params']) == 1
        rules[names[id(group['params'][0])]] = gc_rule_of(optimizer, group)
    return rules


def test_faster_rcnn_groups_and_flags_by_name(faster_rcnn, tmp_path):
    MMLogger.get_instance('gc_summary_frcnn', log_file=str(tmp_path / 'log'))
    wrapper = build(
        faster_rcnn,
        dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4),
        custom_keys={'roi_head.bbox_head.fc_cls': dict(use_gc=False)})
    optimizer = wrapper.optimizer
    assert type(optimizer).__name__ == 'GCWrapped<SGD>'
    rules = rules_by_name(faster_rcnn, optimizer)

    trainable = {n for n, p in faster_rcnn.named_parameters()
                 if p.requires_grad}
    frozen = {n for n, p in faster_rcnn.named_parameters()
              if not p.requires_grad}
    assert 'backbone.conv1.weight' in frozen  # frozen_stages=1
    # mmengine >= 0.10.4 leaves frozen parameters out of the groups; older
    # releases keep them (they get no gradient).
    assert set(rules) - frozen == trainable
    assert rules['roi_head.bbox_head.fc_cls.weight'] is None
    for name in ('backbone.layer2.0.conv1.weight',
                 'neck.fpn_convs.0.conv.weight', 'rpn_head.rpn_conv.weight',
                 'roi_head.bbox_head.fc_reg.weight',
                 'roi_head.bbox_head.shared_fcs.0.weight'):
        assert rules[name] is False, name  # GC on conv and fc
    # Groups with GC on still hold biases and norms, which GC never touches.
    assert rules['backbone.layer2.0.bn1.weight'] is False

    n_conv = sum(1 for m in faster_rcnn.modules()
                 if isinstance(m, nn.Conv2d) and m.weight.requires_grad)
    n_linear = sum(1 for m in faster_rcnn.modules()
                   if isinstance(m, nn.Linear)) - 1  # fc_cls is off
    log = (tmp_path / 'log').read_text()
    line = next(l for l in log.splitlines() if 'GC: ' in l)
    assert (f'GC: {n_conv + n_linear} of {len(trainable) + len(frozen)} '
            f'parameter tensors are centralized by GCWrapped<SGD> '
            f'({n_conv} conv, {n_linear} linear, 0 other)') in line
    assert ('1 use_gc=False by custom_keys: '
            'roi_head.bbox_head.fc_cls.weight') in line
    assert f'{len(frozen)} frozen (not optimized): backbone.conv1.weight' \
        in line


def test_faster_rcnn_conv_only_by_module_type(faster_rcnn):
    optimizer = build(faster_rcnn, dict(type='GCSGD', lr=0.02, momentum=0.9),
                      gc_module_types=['Conv2d']).optimizer
    rules = rules_by_name(faster_rcnn, optimizer)
    for name in ('roi_head.bbox_head.fc_cls.weight',
                 'roi_head.bbox_head.fc_reg.weight',
                 'roi_head.bbox_head.shared_fcs.1.weight',
                 'backbone.layer3.1.bn2.weight'):
        assert rules[name] is None, name
    assert rules['backbone.layer4.2.conv3.weight'] is False
    assert rules['rpn_head.rpn_reg.weight'] is False


def test_custom_keys_win_over_type_rules(faster_rcnn):
    optimizer = build(
        faster_rcnn, dict(type='GCSGD', lr=0.02),
        gc_exclude_module_types=['Linear'], gc_conv_only=True,
        custom_keys={
            'roi_head.bbox_head.fc_reg': dict(use_gc=True,
                                              gc_conv_only=False),
            'backbone.layer4': dict(lr_mult=0.1, use_gc=False),
        }).optimizer
    rules = rules_by_name(faster_rcnn, optimizer)
    assert rules['roi_head.bbox_head.fc_reg.weight'] is False
    assert rules['roi_head.bbox_head.fc_cls.weight'] is None
    assert rules['backbone.layer4.0.conv2.weight'] is None
    assert rules['backbone.layer3.0.conv2.weight'] is True


def test_mmpretrain_lamb_gets_gc():
    from mmpretrain.engine.optimizers import Lamb  # also registers it
    model, twin = TinyNet(), TinyNet()
    wrapper = build(model, dict(type='mmpretrain.Lamb', lr=0.01),
                    custom_keys={'fc': dict(use_gc=False)})
    assert type(wrapper.optimizer).__name__ == 'GCWrapped<Lamb>'
    # Re-statement: plain LAMB on gradients centralized by hand.
    plain = Lamb([dict(params=[p]) for p in twin.parameters()], lr=0.01)
    g = torch.Generator().manual_seed(5)
    for _ in range(3):
        x = torch.randn(4, 3, 5, 5, generator=g)
        wrapper.update_params(model(x).square().mean())
        twin(x).square().mean().backward()
        twin.conv.weight.grad = centralize(twin.conv.weight.grad)
        plain.step()
        plain.zero_grad()
    for a, b in zip(model.parameters(), twin.parameters()):
        assert torch.equal(a, b)
