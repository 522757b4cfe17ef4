"""GCOptimWrapperConstructor with mmengine alone: GC for optimizers that know
nothing of it, Lookahead, state dicts, and the errors for bad configs (on
OpenMMLab models and optimizers: test_constructor_openmmlab.py)."""
import copy

import pytest
import torch
from mmengine.optim import build_optim_wrapper

import mmgc  # noqa: F401  (registers the constructor and optimizers)
from _constructor_models import TinyNet, build_with_gc_constructor as build
from mmgc.optim import gc_rule_of, gc_wrapped
from mmgc.optim.gc_adam import GCAdamW
from mmgc.optim.lookahead import Lookahead

pytestmark = [pytest.mark.optim, pytest.mark.fast]


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
     "gc_loc='update'.*GCAdamW"),
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
