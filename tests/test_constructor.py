"""GCOptimWrapperConstructor: per-layer GC on a real mmdet Faster R-CNN, GC
for optimizers that know nothing of it, and the errors for bad configs."""
import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from torch import nn

import mmgc  # noqa: F401  (registers the constructor and optimizers)
from mmgc.engine import gc_rule_of, gc_wrapped
from mmgc.optim.gc_adam import GCAdamW
from mmgc.optim.gc_ops import centralize
from mmgc.optim.lookahead import Lookahead

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


def build(model, optimizer, **paramwise_cfg):
    return build_optim_wrapper(
        model,
        dict(constructor='GCOptimWrapperConstructor',
             optimizer=optimizer,
             paramwise_cfg=paramwise_cfg))


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
    assert set(rules) == trainable
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
    assert (f'GC: {n_conv + n_linear} of {len(rules) + len(frozen)} '
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


class TinyNet(nn.Module):

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 3 * 3, 5)

    def forward(self, x):
        return self.fc(self.bn(self.conv(x)).flatten(1))


def train(wrapper, model, steps=10):
    g = torch.Generator().manual_seed(3)
    for _ in range(steps):
        x = torch.randn(4, 3, 5, 5, generator=g)
        loss = model(x).square().mean() + model.fc.weight.sum()
        wrapper.update_params(loss)


def test_gc_for_any_optimizer_equals_gcadamw_with_gc_loc_true():
    wrapped_model, reference_model = TinyNet(), TinyNet()
    wrapped = build(wrapped_model, dict(type='AdamW', lr=0.01,
                                        weight_decay=0.1, foreach=False),
                    custom_keys={'bn': dict(decay_mult=0.)})
    reference = build(reference_model,
                      dict(type='GCAdamW', lr=0.01, weight_decay=0.1,
                           gc_loc=True),
                      custom_keys={'bn': dict(decay_mult=0.)})
    assert type(reference.optimizer) is GCAdamW
    train(wrapped, wrapped_model)
    train(reference, reference_model)
    for a, b in zip(wrapped_model.parameters(), reference_model.parameters()):
        assert torch.equal(a, b)
    # Non-vacuous: without GC the trajectory differs.
    plain_model = TinyNet()
    train(build_optim_wrapper(plain_model, dict(optimizer=dict(
        type='AdamW', lr=0.01, weight_decay=0.1, foreach=False))),
          plain_model)
    assert not torch.equal(plain_model.conv.weight,
                           reference_model.conv.weight)


def test_grad_after_step_is_what_backward_produced():
    model = TinyNet()
    optimizer = build(model, dict(type='AdamW', lr=0.01)).optimizer
    model(torch.randn(2, 3, 5, 5)).sum().backward()
    grads = [p.grad.clone() for p in model.parameters()]
    optimizer.step()
    for p, g in zip(model.parameters(), grads):
        assert torch.equal(p.grad, g)
    assert not torch.allclose(grads[0].mean(dim=(1, 2, 3)),
                              torch.zeros(4))  # GC had a mean to remove


def test_wrapped_state_dict_moves_between_wrapped_and_plain():
    model = TinyNet()
    wrapper = build(model, dict(type='AdamW', lr=0.01), gc_conv_only=True)
    train(wrapper, model, 2)
    # The constructor makes one group per parameter.
    per_param = [dict(params=[p]) for p in model.parameters()]
    plain = torch.optim.AdamW(per_param, lr=0.01)
    plain.load_state_dict(copy.deepcopy(wrapper.optimizer.state_dict()))
    assert torch.equal(plain.state[model.conv.weight]['exp_avg'],
                       wrapper.optimizer.state[model.conv.weight]['exp_avg'])
    # And a plain AdamW checkpoint into the wrapped class: options default.
    fresh = gc_wrapped(torch.optim.AdamW)(model.parameters(), lr=0.01,
                                          gc_conv_only=True)
    fresh.load_state_dict(copy.deepcopy(torch.optim.AdamW(
        model.parameters(), lr=0.01).state_dict()))
    assert fresh.param_groups[0]['use_gc'] is True
    assert fresh.param_groups[0]['gc_conv_only'] is True


def test_gc_wrapped_classes_are_cached_and_named():
    cls = gc_wrapped(torch.optim.AdamW)
    assert cls is gc_wrapped(torch.optim.AdamW)
    assert cls.__name__ == 'GCWrapped<AdamW>'
    assert issubclass(cls, torch.optim.AdamW)
    with pytest.raises(ValueError, match='applies GC itself'):
        gc_wrapped(GCAdamW)


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


def test_lookahead_inner_optimizer_gets_gc_and_lr_mult():
    model = TinyNet()
    optimizer = build(model,
                      dict(type='Lookahead', k=2,
                           optimizer=dict(type='AdamW', lr=0.01)),
                      custom_keys={'fc': dict(lr_mult=0.5)}).optimizer
    assert isinstance(optimizer, Lookahead)
    assert type(optimizer.optimizer).__name__ == 'GCWrapped<AdamW>'
    lrs = {id(g['params'][0]): g['lr'] for g in optimizer.param_groups}
    assert lrs[id(model.fc.weight)] == 0.005
    assert lrs[id(model.conv.weight)] == 0.01
    assert gc_rule_of(optimizer, optimizer.param_groups[0]) is False


@pytest.mark.parametrize('optimizer, paramwise_cfg, error, match', [
    (dict(type='AdamW'), dict(use_gcc=False), TypeError,
     r"'use_gcc' \(did you mean 'use_gc'\?\)"),
    (dict(type='AdamW'), dict(custom_keys={'fc': dict(use_gcc=False)}),
     ValueError, r"custom_keys\['fc'\] has the unknown key 'use_gcc' "
     r"\(did you mean 'use_gc'\?\)"),
    (dict(type='AdamW', lr=0.1), dict(custom_keys={'fc': dict(lr_mul=.1)}),
     ValueError, r"'lr_mul' \(did you mean 'lr_mult'\?\)"),
    (dict(type='AdamW'), dict(gc_module_types=['Conv2D']), ValueError,
     "names 'Conv2D'.*Types present: BatchNorm2d, Conv2d, Linear"),
    (dict(type='AdamW', fused=True), {}, ValueError, 'AMP loss scale'),
    (dict(type='AdamW'), dict(gc_loc=False), ValueError,
     'gc_loc=False.*GCAdamW'),
    (dict(type='SGD_GC', lr=0.1), dict(custom_keys={'fc': dict(
        use_gc=False)}), ValueError, 'fixed rule'),
    (dict(type='GCSGD', lr=0.1), dict(gc_loc=True), ValueError,
     "no 'gc_loc' option"),
    (dict(type='AdamW'), dict(custom_keys={'fc': dict(use_gc=1)}),
     TypeError, 'must be True or False'),
    (dict(type='AdamWW'), {}, KeyError, 'not registered'),
])
def test_bad_configs_get_clear_errors(optimizer, paramwise_cfg, error, match):
    with pytest.raises(error, match=match):
        build(TinyNet(), optimizer, **paramwise_cfg)


def test_amp_scale_aware_optimizers_are_refused_when_built_directly():
    # fused optimizers set _step_supports_amp_scaling: GradScaler then hands
    # them still-scaled gradients.
    with pytest.raises(ValueError, match='AMP loss scale'):
        gc_wrapped(torch.optim.AdamW)(TinyNet().parameters(), fused=True)
