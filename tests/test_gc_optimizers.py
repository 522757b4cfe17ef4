"""GCSGD, GCAdam, GCAdamW, GCRAdam: torch's algorithms plus GC."""
import copy

import pytest
import torch

from _torch_support import skip_unless_torch_accepts
from mmgc.optim.gc_adam import GCAdam, GCAdamW
from mmgc.optim.gc_ops import centralize
from mmgc.optim.gc_radam import GCRAdam
from mmgc.optim.gc_sgd import GCSGD

pytestmark = [pytest.mark.optim, pytest.mark.fast]

DTYPES = (torch.float32, torch.float64)

# (mmgc class, torch class, hyper-parameters); every case runs 20 steps.
TORCH_TWINS = [
    (GCSGD, torch.optim.SGD, dict(lr=0.1)),
    (GCSGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=1e-2)),
    (GCSGD, torch.optim.SGD,
     dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2)),
    (GCSGD, torch.optim.SGD,
     dict(lr=0.1, momentum=0.5, dampening=0.3, maximize=True)),
    (GCAdam, torch.optim.Adam, dict(lr=1e-2)),
    (GCAdam, torch.optim.Adam, dict(lr=1e-2, weight_decay=1e-2,
                                    amsgrad=True)),
    (GCAdamW, torch.optim.AdamW, dict(lr=1e-2)),
    (GCAdamW, torch.optim.AdamW, dict(lr=1e-2, weight_decay=0.1,
                                      amsgrad=True, betas=(0.8, 0.99))),
    (GCRAdam, torch.optim.RAdam, dict(lr=1e-2, weight_decay=1e-2)),
    (GCRAdam, torch.optim.RAdam,
     dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True)),
]


def make_params(dtype=torch.float32, seed=0):
    """A conv weight, a linear weight, a Conv1d weight and a bias."""
    g = torch.Generator().manual_seed(seed)
    shapes = [(6, 3, 3, 3), (5, 7), (4, 2, 3), (5, )]
    return [
        torch.randn(s, generator=g, dtype=dtype).requires_grad_()
        for s in shapes
    ]


def run(optimizer, params, steps, seed=1, dtype=torch.float32):
    """``steps`` steps on gradients drawn from a fixed generator, with an
    offset so every slice has a non-zero mean for GC to remove."""
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        for p in params:
            p.grad = torch.randn(p.shape, generator=g, dtype=dtype) + 0.5
        optimizer.step()


def state_tensors(optimizer):
    return [(key, value) for s in optimizer.state_dict()['state'].values()
            for key, value in sorted(s.items())]


@pytest.mark.parametrize('dtype', DTYPES, ids=['float32', 'float64'])
@pytest.mark.parametrize('ours, theirs, kwargs', TORCH_TWINS,
                         ids=lambda v: getattr(v, '__name__', None))
def test_use_gc_false_is_bit_identical_to_torch(ours, theirs, kwargs, dtype):
    skip_unless_torch_accepts(theirs, kwargs)
    expected = make_params(dtype)
    got = make_params(dtype)
    reference = theirs(expected, foreach=False, **kwargs)
    optimizer = ours(got, use_gc=False, **kwargs)
    run(reference, expected, 20, dtype=dtype)
    run(optimizer, got, 20, dtype=dtype)
    for a, b in zip(expected, got):
        assert torch.equal(a, b)
    for (key_a, a), (key_b, b) in zip(state_tensors(reference),
                                      state_tensors(optimizer)):
        assert key_a == key_b and torch.equal(a, b)


@pytest.mark.parametrize('ours, theirs, kwargs', TORCH_TWINS[1::2],
                         ids=lambda v: getattr(v, '__name__', None))
def test_use_gc_changes_only_tensors_it_centralizes(ours, theirs, kwargs):
    skip_unless_torch_accepts(theirs, kwargs)
    expected = make_params()
    got = make_params()
    run(theirs(expected, foreach=False, **kwargs), expected, 5)
    run(ours(got, use_gc=True, gc_conv_only=True, **kwargs), got, 5)
    conv, linear, conv1d, bias = got
    assert not torch.allclose(conv, expected[0])
    # gc_conv_only: ndim <= 3 take torch's path untouched.
    for a, b in zip(expected[1:], got[1:]):
        assert torch.equal(a, b)


def slice_means(weight):
    return weight.detach().mean(dim=tuple(range(1, weight.dim())))


@pytest.mark.parametrize('make', [
    lambda p: GCSGD(p, lr=0.1, momentum=0.9, weight_decay=0.1),
    lambda p: GCSGD(p, lr=0.1, momentum=0.9, nesterov=True),
    lambda p: GCAdam(p, lr=1e-2, weight_decay=0.1, gc_loc=False),
    lambda p: GCAdamW(p, lr=1e-2, weight_decay=0.1, gc_loc=False),
    lambda p: GCAdamW(p, lr=1e-2, weight_decay=0.1, amsgrad=True),
    lambda p: GCRAdam(p, lr=1e-2, weight_decay=0.1, gc_loc=False),
    lambda p: GCRAdam(p, lr=1e-2, weight_decay=0.1,
                      decoupled_weight_decay=True),
],
                         ids=[
                             'sgd-l2', 'sgd-nesterov', 'adam', 'adamw',
                             'adamw-amsgrad', 'radam', 'radam-decoupled'
                         ])
def test_final_update_centralization_keeps_each_slice_mean(make):
    params = make_params(torch.float64)
    before = [slice_means(p) for p in params[:3]]
    # 12 steps: RAdam's first steps (rho_t <= 5) take the SGD branch.
    run(make(params), params, 12, dtype=torch.float64)
    for mean, p in zip(before, params[:3]):
        assert torch.allclose(slice_means(p), mean, rtol=0, atol=1e-12)
    # Non-vacuous: the weights did move.
    assert not torch.allclose(params[0], make_params(torch.float64)[0])


@pytest.mark.parametrize('cls', [GCAdam, GCAdamW, GCRAdam])
def test_gc_loc_true_feeds_the_centralized_gradient_to_the_moments(cls):
    params = make_params(torch.float64)
    optimizer = cls(params, lr=1e-2, weight_decay=0, gc_loc=True)
    run(optimizer, params, 1, dtype=torch.float64)
    grads = [p.grad for p in params]
    beta1, beta2 = optimizer.param_groups[0]['betas']
    for p, g in zip(params, grads):
        state = optimizer.state[p]
        c = centralize(g)
        assert torch.allclose(state['exp_avg'], (1 - beta1) * c,
                              rtol=1e-12, atol=1e-15)
        assert torch.allclose(state['exp_avg_sq'], (1 - beta2) * c * c,
                              rtol=1e-12, atol=1e-15)
    # The centralized gradient is not the raw one (GC did something).
    assert not torch.allclose(centralize(grads[0]), grads[0])


@pytest.mark.parametrize('cls', [GCAdam, GCAdamW, GCRAdam])
def test_gc_loc_false_leaves_the_moments_raw(cls):
    params = make_params(torch.float64)
    before = [p.detach().clone() for p in params]
    optimizer = cls(params, lr=1e-2, weight_decay=0.1, gc_loc=False)
    run(optimizer, params, 1, dtype=torch.float64)
    beta1 = optimizer.param_groups[0]['betas'][0]
    decoupled = optimizer.param_groups[0]['decoupled_weight_decay']
    for p, p0 in zip(params, before):
        # L2 decay (GCAdam, GCRAdam by default) is part of the gradient.
        raw = p.grad if decoupled else p.grad + 0.1 * p0
        assert torch.allclose(optimizer.state[p]['exp_avg'],
                              (1 - beta1) * raw, rtol=1e-12, atol=0)


def test_grad_is_only_read():
    params = make_params()
    grads = []
    for cls in (GCSGD, GCAdam, GCAdamW, GCRAdam):
        optimizer = cls(params, lr=0.1, weight_decay=0.1)
        for p in params:
            p.grad = torch.randn(p.shape) + 1.0
        grads = [p.grad.clone() for p in params]
        optimizer.step()
        for p, g in zip(params, grads):
            assert torch.equal(p.grad, g)


def test_options_are_per_param_group():
    conv, linear, conv1d, bias = make_params()
    twin = [t.detach().clone().requires_grad_() for t in (conv, linear)]
    optimizer = GCSGD([
        dict(params=[conv]),
        dict(params=[linear], use_gc=False),
    ], lr=0.1, momentum=0.9)
    reference = torch.optim.SGD(twin, lr=0.1, momentum=0.9, foreach=False)
    run(optimizer, [conv, linear], 3)
    run(reference, twin, 3)
    assert torch.equal(linear, twin[1])
    assert not torch.allclose(conv, twin[0])
    groups = optimizer.state_dict()['param_groups']
    assert [g['use_gc'] for g in groups] == [True, False]


def test_defaults_match_the_spec():
    p = make_params()
    assert GCSGD(p).defaults['use_gc'] is True
    for cls in (GCAdam, GCAdamW, GCRAdam):
        d = cls(p).defaults
        assert (d['use_gc'], d['gc_conv_only'], d['gc_loc']) == (True, False,
                                                                 False)
    assert GCAdamW(p).defaults['weight_decay'] == 1e-2
    assert isinstance(GCAdamW(p), torch.optim.AdamW)


@pytest.mark.parametrize('ours, theirs', [(GCSGD, torch.optim.SGD),
                                          (GCAdam, torch.optim.Adam),
                                          (GCAdamW, torch.optim.AdamW),
                                          (GCRAdam, torch.optim.RAdam)])
def test_torch_checkpoint_loads_and_continues_identically(ours, theirs):
    kwargs = dict(lr=0.05, weight_decay=0.01)
    if theirs is torch.optim.SGD:
        kwargs['momentum'] = 0.9
    expected = make_params()
    reference = theirs(expected, foreach=False, **kwargs)
    run(reference, expected, 3)
    checkpoint = copy.deepcopy(reference.state_dict())
    run(reference, expected, 4, seed=7)

    got = make_params()
    run(theirs(got, foreach=False, **kwargs), got, 3)
    optimizer = ours(got, use_gc=False, **kwargs)
    optimizer.load_state_dict(checkpoint)
    # The torch checkpoint has no GC options: the configured ones fill in.
    assert optimizer.param_groups[0]['use_gc'] is False
    run(optimizer, got, 4, seed=7)
    for a, b in zip(expected, got):
        assert torch.equal(a, b)

    # And back: an mmgc checkpoint loads into torch's optimizer.
    back = theirs(make_params(), foreach=False, **kwargs)
    back.load_state_dict(copy.deepcopy(optimizer.state_dict()))


def test_radam_sgd_branch_never_writes_into_exp_avg():
    # Reference defect: while rho_t <= 5 the update aliased exp_avg, so decay
    # and GC were written into the first moment.
    params = make_params(torch.float64)
    optimizer = GCRAdam(params, lr=0.1, weight_decay=0.5,
                        decoupled_weight_decay=True, gc_loc=False)
    run(optimizer, params, 1, dtype=torch.float64)
    beta1 = optimizer.param_groups[0]['betas'][0]
    for p in params:
        assert torch.allclose(optimizer.state[p]['exp_avg'],
                              (1 - beta1) * p.grad, rtol=1e-14, atol=0)


def test_radam_without_sgd_degeneration_runs_and_waits():
    # Reference defect: degenerated_to_sgd=False crashed on step 1.
    params = make_params()
    before = [p.detach().clone() for p in params]
    optimizer = GCRAdam(params, lr=0.1, degenerated_to_sgd=False)
    run(optimizer, params, 3)
    for a, b in zip(before, params):
        assert torch.equal(a, b)
    assert optimizer.state[params[0]]['exp_avg'].abs().sum() > 0
    run(optimizer, params, 5)  # rho_t > 5 from step 6 on (beta2=0.999)
    assert not torch.equal(before[0], params[0])


def test_radam_sgd_branch_applies_lr_once():
    # Reference defect: PlainRAdam multiplied by lr twice.
    params = make_params(torch.float64)
    before = [p.detach().clone() for p in params]
    optimizer = GCRAdam(params, lr=0.1, use_gc=False)
    run(optimizer, params, 1, dtype=torch.float64)
    for b, p in zip(before, params):
        assert torch.allclose(p, b - 0.1 * p.grad, rtol=1e-12, atol=1e-14)


def test_adamw_decay_is_lr_times_wd():
    # Reference defect: the advanced AdamW decayed by lr*wd/(1-beta1^t),
    # ten times too much at step 1. With a zero gradient only decay acts.
    for gc_loc in (True, False):
        params = make_params(torch.float64)
        before = [p.detach().clone() for p in params]
        optimizer = GCAdamW(params, lr=0.1, weight_decay=0.2, gc_loc=gc_loc)
        for p in params:
            p.grad = torch.zeros_like(p)
        optimizer.step()
        bias = params[3]
        assert torch.allclose(bias, before[3] * (1 - 0.1 * 0.2), rtol=1e-14)
    # gc_loc=False centralizes the decay with the update: means are kept.
    assert torch.allclose(slice_means(params[0]), slice_means(before[0]),
                          atol=1e-14)


@pytest.mark.parametrize('cls', [GCAdam, GCAdamW, GCRAdam])
@pytest.mark.parametrize('name, flag', [('gradient', True), ('update', False)])
def test_gc_loc_names_equal_the_authors_bools(cls, name, flag):
    expected, got = make_params(), make_params()
    run(cls(expected, lr=1e-2, weight_decay=0.1, gc_loc=flag), expected, 8)
    run(cls(got, lr=1e-2, weight_decay=0.1, gc_loc=name), got, 8)
    for a, b in zip(expected, got):
        assert torch.equal(a, b)


def test_bad_gc_loc_is_refused_naming_the_values():
    with pytest.raises(ValueError, match="'gradient'.*'update'.*'moments'"):
        GCAdam(make_params(), gc_loc='moments')
    with pytest.raises(ValueError, match="gc_loc must be 'gradient'"):
        GCRAdam([dict(params=make_params(), gc_loc=1)])


def test_sparse_gradient_on_a_centralized_tensor_is_refused():
    embedding = torch.nn.Embedding(10, 4, sparse=True)
    embedding(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(RuntimeError, match=r'GCSGD.*shape \(10, 4\)'):
        GCSGD(embedding.parameters(), lr=0.1).step()
    # Without GC on it, torch's sparse SGD path still works.
    GCSGD(embedding.parameters(), lr=0.1, use_gc=False).step()


@pytest.mark.parametrize('kwargs, error, match', [
    (dict(gc_conv_ony=True), TypeError, "did you mean 'gc_conv_only'"),
    (dict(use_gcc=True), TypeError, "did you mean 'use_gc'"),
    (dict(fused=True), ValueError, 'loss scale'),
    (dict(use_gc='yes'), TypeError, 'use_gc must be True or False'),
])
def test_bad_arguments_get_clear_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        GCAdamW(make_params(), **kwargs)


def test_foreach_is_refused_where_there_is_no_multi_tensor_kernel():
    with pytest.raises(ValueError, match='single-tensor'):
        GCRAdam(make_params(), foreach=True)


def test_bad_group_keys_get_clear_errors():
    p = make_params()
    with pytest.raises(ValueError, match="did you mean 'use_gc'"):
        GCAdam([dict(params=p, use_gcc=False)])
    with pytest.raises(ValueError, match="no 'gc_loc' option"):
        GCSGD([dict(params=p, gc_loc=True)], lr=0.1)
    with pytest.raises(TypeError, match='gc_conv_only must be True or False'):
        GCSGD(p, lr=0.1).add_param_group(
            dict(params=[torch.zeros(3, 3, requires_grad=True)],
                 gc_conv_only=1))
