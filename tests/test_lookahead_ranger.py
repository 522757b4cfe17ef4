"""Lookahead and Ranger: schedule, state_dict round trips, config building,
the reference defects."""
import copy
import io

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.registry import OPTIMIZERS

import mmgc  # noqa: F401  (registers the optimizers)
from _torch_support import skip_unless_torch_accepts
from mmgc.optim.gc_radam import GCRAdam
from mmgc.optim.gc_sgd import GCSGD
from mmgc.optim.lookahead import Lookahead
from mmgc.optim.ranger import Ranger

pytestmark = [pytest.mark.optim, pytest.mark.fast]


def make_params(seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return [
        torch.randn(s, generator=g, dtype=dtype).requires_grad_()
        for s in [(4, 3, 3, 3), (5, 4), (5, )]
    ]


def grad_of(params):
    """A gradient that depends on the weights (a quadratic bowl around a
    shifted target), so a changed trajectory changes later gradients."""
    for i, p in enumerate(params):
        p.grad = (p.detach() - 0.3 * (i + 1)) * 0.7 + 0.1


def train(optimizer, params, steps):
    for _ in range(steps):
        grad_of(params)
        optimizer.step()


def clone(params):
    return [p.detach().clone().requires_grad_() for p in params]


@pytest.mark.parametrize('k, alpha', [(3, 0.5), (1, 0.8), (4, 1.0)])
def test_slow_weights_follow_the_schedule(k, alpha):
    params = make_params()
    optimizer = Lookahead(
        torch.optim.SGD(params, lr=0.1, momentum=0.9, foreach=False),
        k=k, alpha=alpha)

    # Re-statement: fast SGD steps; every k steps the slow weights (which
    # start as the weights before the first step) move alpha of the way.
    fast = clone(params)
    slow = [p.detach().clone() for p in fast]
    sgd = torch.optim.SGD(fast, lr=0.1, momentum=0.9, foreach=False)
    for step in range(1, 3 * k + 2):
        grad_of(params)
        optimizer.step()
        grad_of(fast)
        sgd.step()
        if step % k == 0:
            with torch.no_grad():
                for s, f in zip(slow, fast):
                    s.add_(f - s, alpha=alpha)
                    f.copy_(s)
        for a, b in zip(params, fast):
            assert torch.equal(a, b), f'step {step}'
    assert optimizer.param_groups[0]['lookahead_step'] == 3 * k + 1


def test_first_sync_starts_from_the_initial_weights():
    # A lazily created slow buffer (copied at the first sync) would make the
    # first sync a no-op; the slow weights must start at the initial weights.
    params = make_params()
    initial = [p.detach().clone() for p in params]
    inner = torch.optim.SGD(params, lr=0.1, foreach=False)
    optimizer = Lookahead(inner, k=2, alpha=0.5)
    fast = clone(params)
    plain = torch.optim.SGD(fast, lr=0.1, foreach=False)
    train(optimizer, params, 2)
    train(plain, fast, 2)
    for p, p0, f in zip(params, initial, fast):
        assert torch.allclose(p, p0 + 0.5 * (f - p0), rtol=0, atol=1e-6)
        assert not torch.allclose(p, f)


def roundtrip(state_dict):
    """Through torch.save/torch.load, as a checkpoint would go."""
    buffer = io.BytesIO()
    torch.save(state_dict, buffer)
    buffer.seek(0)
    return torch.load(buffer)


@pytest.mark.parametrize('make', [
    lambda p: Lookahead(GCSGD(p, lr=0.1, momentum=0.9), k=3),
    lambda p: Lookahead(torch.optim.Adam(p, lr=0.01, foreach=False), k=4),
    lambda p: Ranger(p, lr=0.01, weight_decay=0.1, k=4),
    lambda p: Ranger(p, lr=0.01, gc_loc=True, gc_conv_only=True),
],
                         ids=['lookahead-gcsgd', 'lookahead-adam', 'ranger',
                              'ranger-gc-loc'])
def test_state_dict_mid_run_then_continue_equals_uninterrupted(make):
    expected = make_params()
    uninterrupted = make(expected)
    train(uninterrupted, expected, 14)

    first = make_params()
    optimizer = make(first)
    train(optimizer, first, 5)  # stops in the middle of a Lookahead cycle
    checkpoint = roundtrip(optimizer.state_dict())
    assert sorted(checkpoint['state']) == [0, 1, 2]  # positions, not ids

    resumed_params = [p.detach().clone().requires_grad_() for p in first]
    resumed = make(resumed_params)
    resumed.load_state_dict(checkpoint)
    assert resumed.param_groups[0]['lookahead_step'] == 5
    train(resumed, resumed_params, 9)
    for a, b in zip(expected, resumed_params):
        assert torch.equal(a, b)


def test_lookahead_follows_the_inner_containers_after_load():
    params = make_params()
    optimizer = Lookahead(GCSGD(params, lr=0.1, momentum=0.9), k=2)
    train(optimizer, params, 3)
    optimizer.load_state_dict(copy.deepcopy(optimizer.state_dict()))
    # torch's load_state_dict replaces the inner lists/dicts.
    assert optimizer.param_groups is optimizer.optimizer.param_groups
    assert optimizer.state is optimizer.optimizer.state
    optimizer.param_groups[0]['lr'] = 0.5
    assert optimizer.optimizer.param_groups[0]['lr'] == 0.5


def test_bare_inner_checkpoint_loads_into_lookahead():
    params = make_params()
    inner = GCSGD(params, lr=0.1, momentum=0.9)
    train(inner, params, 2)
    optimizer = Lookahead(GCSGD(clone(params), lr=0.1, momentum=0.9), k=3,
                          alpha=0.4)
    optimizer.load_state_dict(copy.deepcopy(inner.state_dict()))
    group = optimizer.param_groups[0]
    assert (group['lookahead_k'], group['lookahead_alpha'],
            group['lookahead_step']) == (3, 0.4, 0)


def test_built_from_a_config_through_mmengine():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(),
                                torch.nn.Linear(4 * 3 * 3, 2))
    optim_wrapper = build_optim_wrapper(
        model,
        dict(optimizer=dict(type='Lookahead',
                            optimizer=dict(type='SGD_GC', lr=0.1,
                                           momentum=0.9),
                            k=5, alpha=0.5)))
    optimizer = optim_wrapper.optimizer
    assert isinstance(optimizer, Lookahead)
    assert type(optimizer.optimizer).__name__ == 'SGD_GC'
    assert optimizer.param_groups[0]['lookahead_k'] == 5
    assert optim_wrapper.get_lr()['lr'] == [0.1]
    loss = model(torch.randn(2, 3, 5, 5)).sum()
    before = model[0].weight.detach().clone()
    optim_wrapper.update_params(loss)
    assert not torch.equal(before, model[0].weight)
    # The lr mmengine's schedulers write reaches the inner optimizer.
    for group in optim_wrapper.param_groups:
        group['lr'] = 0.01
    assert optimizer.optimizer.param_groups[0]['lr'] == 0.01


def test_step_hooks_run_once():
    # torch wraps each optimizer class's step with its hook runner; a step
    # that calls another hooked step would run the hooks twice.
    GCRAdam(make_params(), lr=0.1).step()  # hooks GCRAdam.step
    for optimizer in (Ranger(make_params()),
                      Lookahead(GCSGD(make_params(), lr=0.1))):
        calls = []
        optimizer.register_step_pre_hook(lambda *a: calls.append('pre'))
        optimizer.register_step_post_hook(lambda *a: calls.append('post'))
        train(optimizer, optimizer.param_groups[0]['params'], 1)
        assert calls == ['pre', 'post']


def test_ranger_without_gc_is_lookahead_around_torch_radam():
    skip_unless_torch_accepts(torch.optim.RAdam,
                              dict(decoupled_weight_decay=True))
    expected = make_params()
    reference = Lookahead(
        torch.optim.RAdam(expected, lr=0.01, betas=(0.95, 0.999), eps=1e-5,
                          weight_decay=0.1, decoupled_weight_decay=True,
                          foreach=False), k=6, alpha=0.5)
    got = make_params()
    ranger = Ranger(got, lr=0.01, weight_decay=0.1, use_gc=False)
    train(reference, expected, 15)
    train(ranger, got, 15)
    for a, b in zip(expected, got):
        assert torch.equal(a, b)


def test_ranger_defaults_match_the_spec():
    group = Ranger(make_params()).param_groups[0]
    expected = dict(lr=1e-3, lookahead_alpha=0.5, lookahead_k=6,
                    N_sma_threshold=5, betas=(0.95, 0.999), eps=1e-5,
                    weight_decay=0, use_gc=True, gc_conv_only=False,
                    gc_loc=False)
    assert {key: group[key] for key in expected} == expected


def test_ranger_early_steps_never_write_into_exp_avg():
    # Reference defect: with N_sma under the threshold the update aliased
    # exp_avg, and decay and GC were written into it.
    params = make_params(dtype=torch.float64)
    ranger = Ranger(params, lr=0.1, weight_decay=0.5, k=100)
    beta1 = ranger.param_groups[0]['betas'][0]
    exp_avg = torch.zeros_like(params[0])
    for _ in range(3):  # rho_t <= 5 for these steps
        grad_of(params)
        exp_avg = exp_avg * beta1 + (1 - beta1) * params[0].grad
        ranger.step()
        assert torch.allclose(ranger.state[params[0]]['exp_avg'], exp_avg,
                              rtol=1e-12, atol=1e-15)


def test_ranger_n_sma_threshold_is_used():
    a, b = make_params(), make_params()
    train(Ranger(a, N_sma_threshold=5), a, 6)
    train(Ranger(b, N_sma_threshold=1000), b, 6)
    assert not torch.equal(a[0], b[0])


@pytest.mark.parametrize('build, error, match', [
    (lambda p: Lookahead(GCSGD(p, lr=0.1), k=0), ValueError, 'k must be'),
    (lambda p: Lookahead(GCSGD(p, lr=0.1), alpha=1.5), ValueError,
     'alpha must be'),
    (lambda p: Lookahead(GCSGD(p, lr=0.1), kk=5), TypeError,
     "did you mean 'k'"),
    (lambda p: Lookahead(optimizer=dict(type='GCSGD', lr=0.1)), ValueError,
     'no params'),
    (lambda p: Lookahead(Lookahead(GCSGD(p, lr=0.1))), ValueError,
     'only once'),
    (lambda p: Lookahead(p, optimizer=GCSGD(p, lr=0.1)), ValueError,
     'drop params'),
    (lambda p: Ranger(p, N_sma_treshold=5), TypeError,
     "did you mean 'N_sma_threshold'"),
    (lambda p: Ranger(p, k=2.5), ValueError, 'k must be'),
])
def test_bad_arguments_get_clear_errors(build, error, match):
    with pytest.raises(error, match=match):
        build(make_params())


def test_lookahead_from_config_dict_with_params():
    params = make_params()
    optimizer = OPTIMIZERS.build(
        dict(type='Lookahead', optimizer=dict(type='GCAdamW', lr=0.01),
             params=params, k=2))
    train(optimizer, params, 3)
    assert 'lookahead_slow' in optimizer.state[params[0]]
