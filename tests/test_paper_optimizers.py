"""The paper's optimizers against a per-parameter re-statement of their
formulas (SPEC section 2), plus the properties GC guarantees.

The reference functions below are written parameter by parameter with plain
dict state, independent of mmgc's classes, gathering and kernels. They use the
same torch primitives as the authors' code (``add`` with ``alpha``,
``addcmul``, ``addcdiv``) because the contract is bit-for-bit equality.
"""
import copy
import math
import pickle

import pytest
import torch
from torch import nn

from _torch_support import skip_unless_cpu_kernels_support
from mmgc.optim import (PAPER_OPTIMIZERS, SGD_GC, SGD_GCC, SGDW_GC, Adagrad_GC,
                        Adagrad_GCC, Adam_GC, Adam_GC2, AdamW_GC2, centralize)

pytestmark = [pytest.mark.optim, pytest.mark.fast]

OPTIMIZERS = {cls.__name__: cls for cls in PAPER_OPTIMIZERS}


# --------------------------------------------------------------------------
# Reference re-statement of SPEC section 2
# --------------------------------------------------------------------------
def ref_gc(tensor, conv_only):
    if tensor.dim() > (3 if conv_only else 1):
        return tensor - tensor.mean(dim=tuple(range(1, tensor.dim())),
                                    keepdim=True)
    return tensor


def ref_sgd(w, g, state, *, lr, momentum=0, dampening=0, weight_decay=0,
            nesterov=False, conv_only, decoupled):
    w_old = w.clone()
    d = g if decoupled or weight_decay == 0 else g.add(w, alpha=weight_decay)
    d = ref_gc(d, conv_only)
    if momentum != 0:
        if 'momentum_buffer' not in state:
            state['momentum_buffer'] = d.clone()
        else:
            state['momentum_buffer'] = state['momentum_buffer'].mul(
                momentum).add(d, alpha=1 - dampening)
        buf = state['momentum_buffer']
        d = d.add(buf, alpha=momentum) if nesterov else buf
    w = w.add(d, alpha=-lr)
    if decoupled and weight_decay != 0:
        w = w.add(w_old, alpha=-lr * weight_decay)
    return w


def ref_adam(w, g, state, *, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
             weight_decay=0, amsgrad=False, conv_only, on_update, old_adamw):
    b1, b2 = betas
    if not state:
        state.update(step=0, exp_avg=torch.zeros_like(w),
                     exp_avg_sq=torch.zeros_like(w))
        if amsgrad:
            state['max_exp_avg_sq'] = torch.zeros_like(w)
    state['step'] += 1
    t = state['step']
    if not old_adamw and weight_decay != 0:
        g = g.add(w, alpha=weight_decay)
    if not on_update:
        g = ref_gc(g, conv_only)
    m = state['exp_avg'] = state['exp_avg'].mul(b1).add(g, alpha=1 - b1)
    v = state['exp_avg_sq'] = state['exp_avg_sq'].mul(b2).addcmul(
        g, g, value=1 - b2)
    if amsgrad:
        v = state['max_exp_avg_sq'] = torch.maximum(state['max_exp_avg_sq'],
                                                    v)
    if old_adamw:
        denom = v.sqrt() + eps
        step_size = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        update = (w * weight_decay).addcdiv(m, denom)
        if on_update and w.dim() > (3 if conv_only else 1):
            # The authors scale by the step size first, then centralize:
            # delta = step_size * (wd * w + m / denom); w -= Phi_GC(delta).
            return w - ref_gc(update * step_size, conv_only)
        # Tensors outside the GC rule (in the "2" variants too): one add.
        return w.add(update, alpha=-step_size)
    denom = v.sqrt() / math.sqrt(1 - b2**t) + eps
    step_size = lr / (1 - b1**t)
    if on_update:
        return w - ref_gc((m * step_size) / denom, conv_only)
    return w.addcdiv(m, denom, value=-step_size)


def ref_adagrad(w, g, state, *, lr=1e-2, lr_decay=0, weight_decay=0,
                initial_accumulator_value=0, eps=1e-10, conv_only):
    if not state:
        state.update(step=0,
                     sum=torch.full_like(w, initial_accumulator_value))
    state['step'] += 1
    if weight_decay != 0:
        g = g.add(w, alpha=weight_decay)
    clr = lr / (1 + (state['step'] - 1) * lr_decay)
    g = ref_gc(g, conv_only)
    state['sum'] = state['sum'].addcmul(g, g, value=1)
    return w.addcdiv(g, state['sum'].sqrt() + eps, value=-clr)


def reference_for(name):
    conv_only = 'GCC' in name
    if name.startswith(('SGD_', 'SGDW_')):
        return ref_sgd, dict(conv_only=conv_only,
                             decoupled=name.startswith('SGDW'))
    if name.startswith('Adam'):
        return ref_adam, dict(conv_only=conv_only,
                              on_update=name.endswith('2'),
                              old_adamw=name.startswith('AdamW'))
    return ref_adagrad, dict(conv_only=conv_only)


HYPER_PARAMETERS = {
    'SGD': [
        dict(lr=0.1),
        dict(lr=0.1, momentum=0.9, weight_decay=1e-2),
        dict(lr=0.05, momentum=0.9, weight_decay=1e-2, nesterov=True),
        dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=5e-3),
    ],
    'Adam': [
        dict(lr=1e-2),
        dict(lr=1e-2, betas=(0.8, 0.99), weight_decay=1e-2, amsgrad=True),
        dict(lr=1e-3, eps=1e-6, weight_decay=5e-2),
    ],
    'Adagrad': [
        dict(lr=0.1),
        dict(lr=0.1, lr_decay=0.05, weight_decay=1e-2,
             initial_accumulator_value=0.1, eps=1e-8),
    ],
}


def family(name):
    return 'SGD' if name.startswith('SGD') else (
        'Adagrad' if name.startswith('Adagrad') else 'Adam')


# Adagrad has a single kernel; the others are checked on both paths.
CASES = [(name, hp, foreach) for name in OPTIMIZERS
         for hp in HYPER_PARAMETERS[family(name)]
         for foreach in ((False, ) if family(name) == 'Adagrad' else
                         (False, True))]


def make_params(dtype, seed=0):
    """Conv2d, Linear, Conv1d (ndim 3) weights and 1-D biases."""
    g = torch.Generator().manual_seed(seed)
    shapes = [(6, 3, 3, 3), (6, ), (5, 6), (5, ), (4, 2, 3), (4, )]
    return [torch.randn(s, generator=g, dtype=torch.float64).to(dtype)
            for s in shapes]


def random_grads(params, step, dtype):
    g = torch.Generator().manual_seed(1000 + step)
    return [torch.randn(p.shape, generator=g, dtype=torch.float64).to(dtype)
            for p in params]


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize(
    'name,hyper,foreach', CASES,
    ids=[f'{n}-{i}-foreach{int(f)}' for i, (n, _, f) in enumerate(CASES)])
def test_matches_reference_bit_for_bit(name, hyper, foreach, dtype):
    params = [nn.Parameter(t) for t in make_params(dtype)]
    extra = {} if family(name) == 'Adagrad' else dict(foreach=foreach)
    optimizer = OPTIMIZERS[name](params, **hyper, **extra)
    ref_step, rule = reference_for(name)
    ref_weights = [p.detach().clone() for p in params]
    ref_states = [{} for _ in params]

    for step in range(20):
        grads = random_grads(params, step, dtype)
        for p, grad in zip(params, grads):
            p.grad = grad.clone()
        optimizer.step()
        for i, grad in enumerate(grads):
            ref_weights[i] = ref_step(ref_weights[i], grad, ref_states[i],
                                      **hyper, **rule)
            assert torch.equal(params[i].grad, grad), '.grad was modified'

    for i, p in enumerate(params):
        assert torch.equal(p.detach(), ref_weights[i]), f'param {i}'
        state = optimizer.state[p]
        assert set(state) == set(ref_states[i]), f'state keys of param {i}'
        for key, value in ref_states[i].items():
            if torch.is_tensor(value):
                assert torch.equal(state[key], value), f'{key} of param {i}'
            else:
                assert state[key] == value


def authors_adamw_gc2_step(p, grad, state, *, lr, betas, eps, weight_decay,
                           amsgrad, conv_only):
    """One step of the authors' AdamW_GC2 / AdamW_GCC2 on one tensor,
    operation for operation and in place as they wrote it (today's keyword
    spellings of the same torch calls)."""
    beta1, beta2 = betas
    if not state:
        state.update(step=0, exp_avg=torch.zeros_like(p),
                     exp_avg_sq=torch.zeros_like(p))
        if amsgrad:
            state['max_exp_avg_sq'] = torch.zeros_like(p)
    exp_avg, exp_avg_sq = state['exp_avg'], state['exp_avg_sq']
    state['step'] += 1
    exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    if amsgrad:
        max_exp_avg_sq = state['max_exp_avg_sq']
        torch.max(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        denom = max_exp_avg_sq.sqrt().add_(eps)
    else:
        denom = exp_avg_sq.sqrt().add_(eps)
    bias_correction1 = 1 - beta1**state['step']
    bias_correction2 = 1 - beta2**state['step']
    step_size = lr * math.sqrt(bias_correction2) / bias_correction1
    if grad.dim() > (3 if conv_only else 1):
        delta = (step_size * torch.mul(p, weight_decay).addcdiv_(
            exp_avg, denom, value=1)).clone()
        delta.add_(-delta.mean(dim=tuple(range(1, grad.dim())),
                               keepdim=True))
        p.add_(-delta)
    else:
        p.add_(torch.mul(p, weight_decay).addcdiv_(exp_avg, denom, value=1),
               alpha=-step_size)


@pytest.mark.parametrize('foreach', [False, True])
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('amsgrad', [False, True])
@pytest.mark.parametrize('name', ['AdamW_GC2', 'AdamW_GCC2'])
def test_adamw_gc2_matches_the_authors_step_op_for_op(name, amsgrad, dtype,
                                                       foreach):
    # Conv (4-D), fc (2-D) and 1-D tensors, large enough that CPU kernels
    # take their vectorized loops (where a fused multiply-add and a
    # multiply followed by a subtraction round differently).
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 48, 3), nn.BatchNorm2d(48),
                          nn.Flatten(), nn.Linear(48, 100)).to(dtype)
    params = list(model.parameters())
    hyper = dict(lr=1e-2, betas=(0.9, 0.99), eps=1e-8, weight_decay=5e-2,
                 amsgrad=amsgrad)
    optimizer = OPTIMIZERS[name](params, foreach=foreach, **hyper)
    ref_weights = [p.detach().clone() for p in params]
    ref_states = [{} for _ in params]
    for step in range(20):
        grads = random_grads(params, step, dtype)
        for p, grad in zip(params, grads):
            p.grad = grad.clone()
        optimizer.step()
        for w, grad, state in zip(ref_weights, grads, ref_states):
            authors_adamw_gc2_step(w, grad.clone(), state, **hyper,
                                   conv_only=name == 'AdamW_GCC2')
    for i, p in enumerate(params):
        assert torch.equal(p.detach(), ref_weights[i]), \
            f'param {i} {tuple(p.shape)}'
        state = optimizer.state[p]
        assert set(state) == set(ref_states[i])
        for key in ('exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'):
            if key in state:
                assert torch.equal(state[key], ref_states[i][key]), key


# --------------------------------------------------------------------------
# Properties of the operator and of the optimizers (paper, section 4)
# --------------------------------------------------------------------------
def test_centralized_slices_sum_to_zero_and_operator_is_a_projection():
    g = torch.randn(8, 4, 3, 3, dtype=torch.float64)
    c = centralize(g)
    assert torch.allclose(c.sum(dim=(1, 2, 3)), torch.zeros(8,
                                                            dtype=c.dtype),
                          atol=1e-12)
    assert torch.allclose(centralize(c), c, atol=1e-14)  # idempotent
    h = torch.randn_like(g)
    assert torch.allclose(centralize(2 * g + h), 2 * c + centralize(h),
                          atol=1e-12)  # linear


def test_ndim_rules():
    bias, linear, conv1d, conv2d = (torch.randn(5), torch.randn(5, 4),
                                    torch.randn(5, 4, 3),
                                    torch.randn(5, 4, 3, 3))
    assert centralize(bias) is bias
    assert centralize(bias, conv_only=True) is bias
    for t in (linear, conv1d, conv2d):
        assert not torch.equal(centralize(t), t)
    assert centralize(linear, conv_only=True) is linear
    assert centralize(conv1d, conv_only=True) is conv1d
    assert not torch.equal(centralize(conv2d, conv_only=True), conv2d)


@pytest.mark.parametrize('cls', [SGD_GC, SGDW_GC])
def test_filter_weight_sums_stay_constant_under_sgd_gc(cls):
    """Theorem 4.1: with GC and no decay e^T w never changes."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Flatten(),
                        nn.Linear(8 * 6 * 6, 4)).double()
    x = torch.randn(4, 3, 8, 8, dtype=torch.float64)
    optimizer = cls(net.parameters(), lr=0.05, momentum=0.9)
    conv, fc = net[0].weight, net[2].weight
    conv_start = conv.detach().clone()
    sums = [conv.detach().sum(dim=(1, 2, 3)), fc.detach().sum(dim=1)]
    for _ in range(10):
        optimizer.zero_grad()
        net(x).pow(2).mean().backward()
        optimizer.step()
    assert torch.allclose(conv.sum(dim=(1, 2, 3)), sums[0], atol=1e-12)
    assert torch.allclose(fc.sum(dim=1), sums[1], atol=1e-12)
    assert not torch.allclose(conv.detach().sum(dim=(2, 3)),
                              conv_start.sum(dim=(2, 3)))  # it trained


def test_gcc_leaves_linear_weight_sums_free():
    torch.manual_seed(0)
    fc = nn.Linear(6, 3)
    optimizer = SGD_GCC(fc.parameters(), lr=0.5)
    before = fc.weight.detach().sum(dim=1).clone()
    fc(torch.randn(4, 6)).pow(2).sum().backward()
    optimizer.step()
    assert not torch.allclose(fc.weight.sum(dim=1), before)


@pytest.mark.parametrize('cls', [Adam_GC2, AdamW_GC2])
def test_gc2_variants_keep_each_filter_weight_mean(cls):
    torch.manual_seed(0)
    params = [nn.Parameter(t) for t in make_params(torch.float64)]
    optimizer = cls(params, lr=1e-2, weight_decay=1e-2)
    means = [p.detach().mean(dim=tuple(range(1, p.dim())))
             for p in params if p.dim() > 1]
    for step in range(10):
        for p, g in zip(params, random_grads(params, step, torch.float64)):
            p.grad = g
        optimizer.step()
    after = [p.detach().mean(dim=tuple(range(1, p.dim())))
             for p in params if p.dim() > 1]
    for m0, m1 in zip(means, after):
        assert torch.allclose(m0, m1, atol=1e-12)
    # Adam_GC (GC on the gradient) does not keep the means: the moments are
    # normalized element-wise.
    params2 = [nn.Parameter(t) for t in make_params(torch.float64)]
    other = Adam_GC(params2, lr=1e-2)
    for step in range(3):
        for p, g in zip(params2, random_grads(params2, step, torch.float64)):
            p.grad = g
        other.step()
    assert not torch.allclose(params2[0].mean(dim=(1, 2, 3)), means[0],
                              atol=1e-6)


# --------------------------------------------------------------------------
# Robustness
# --------------------------------------------------------------------------
def default_hyper(name):
    return HYPER_PARAMETERS[family(name)][1]


def run_steps(optimizer, params, steps, start=0, dtype=torch.float32):
    for step in range(start, start + steps):
        for p, g in zip(params, random_grads(params, step, dtype)):
            p.grad = g.to(p.dtype)
        optimizer.step()


@pytest.mark.parametrize('name', list(OPTIMIZERS))
def test_state_dict_resume_is_bit_identical(name):
    cls, hyper = OPTIMIZERS[name], default_hyper(name)
    params = [nn.Parameter(t) for t in make_params(torch.float32)]
    optimizer = cls(params, **hyper)
    run_steps(optimizer, params, 5)
    saved_weights = [p.detach().clone() for p in params]
    saved_state = copy.deepcopy(optimizer.state_dict())
    run_steps(optimizer, params, 5, start=5)

    resumed_params = [nn.Parameter(w.clone()) for w in saved_weights]
    resumed = cls(resumed_params, **hyper)
    resumed.load_state_dict(pickle.loads(pickle.dumps(saved_state)))
    run_steps(resumed, resumed_params, 5, start=5)
    for a, b in zip(params, resumed_params):
        assert torch.equal(a, b)


@pytest.mark.parametrize('name', list(OPTIMIZERS))
def test_deepcopy_and_pickle(name):
    cls, hyper = OPTIMIZERS[name], default_hyper(name)
    params = [nn.Parameter(t) for t in make_params(torch.float32)]
    optimizer = cls(params, **hyper)
    run_steps(optimizer, params, 2)
    clone = copy.deepcopy(optimizer)
    assert type(clone) is cls
    restored = pickle.loads(pickle.dumps(optimizer))
    assert type(restored) is cls
    assert restored.state_dict()['param_groups'] == \
        optimizer.state_dict()['param_groups']
    # The copy trains its own parameters, identically.
    run_steps(optimizer, params, 2, start=2)
    copied_params = clone.param_groups[0]['params']
    run_steps(clone, copied_params, 2, start=2)
    for a, b in zip(params, copied_params):
        assert torch.equal(a, b)


@pytest.mark.parametrize('name', list(OPTIMIZERS))
def test_no_grad_and_zero_size_parameters(name):
    cls, hyper = OPTIMIZERS[name], default_hyper(name)
    frozen = nn.Parameter(torch.randn(3, 4))
    empty = nn.Parameter(torch.empty(0, 4))
    live = nn.Parameter(torch.randn(3, 4))
    optimizer = cls([frozen, empty, live], **hyper)
    before = frozen.detach().clone()
    empty.grad = torch.empty(0, 4)
    live.grad = torch.randn(3, 4)
    optimizer.step()
    optimizer.step()
    assert torch.equal(frozen, before)
    assert empty.shape == (0, 4)
    assert not torch.equal(live, live.grad)  # it moved, finitely
    assert torch.isfinite(live).all()


@pytest.mark.parametrize('name', list(OPTIMIZERS))
def test_non_contiguous_and_channels_last_gradients(name):
    cls, hyper = OPTIMIZERS[name], default_hyper(name)
    base = make_params(torch.float32)
    plain = [nn.Parameter(t.clone()) for t in base]
    strided = [nn.Parameter(t.clone()) for t in base]
    opt_plain, opt_strided = cls(plain, **hyper), cls(strided, **hyper)
    for step in range(3):
        grads = random_grads(plain, step, torch.float32)
        for p, g in zip(plain, grads):
            p.grad = g.clone()
        for p, g in zip(strided, grads):
            if g.dim() == 4:
                p.grad = g.clone().to(memory_format=torch.channels_last)
            elif g.dim() == 2:
                p.grad = g.t().contiguous().t()  # non-contiguous view
            else:
                p.grad = g.clone()
        opt_plain.step()
        opt_strided.step()
    for a, b in zip(plain, strided):
        assert torch.allclose(a, b, rtol=0, atol=1e-6)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
@pytest.mark.parametrize('name', list(OPTIMIZERS))
def test_half_precision_parameters(name, dtype):
    skip_unless_cpu_kernels_support(dtype)
    cls, hyper = OPTIMIZERS[name], dict(default_hyper(name))
    if family(name) == 'Adam':
        hyper['eps'] = 1e-4  # representable in half precision
    params = [nn.Parameter(t.to(dtype)) for t in make_params(torch.float32)]
    optimizer = cls(params, **hyper)
    before = [p.detach().clone() for p in params]
    run_steps(optimizer, params, 3)
    for p, b in zip(params, before):
        assert p.dtype == dtype
        assert torch.isfinite(p.float()).all()
        assert not torch.equal(p, b)
        for value in optimizer.state[p].values():
            if torch.is_tensor(value):
                assert value.dtype == dtype  # state follows the parameter


@pytest.mark.parametrize('name', list(OPTIMIZERS))
def test_sparse_gradient_on_gc_tensor_is_refused(name):
    cls = OPTIMIZERS[name]
    shape = (10, 4, 3, 3)  # GC and GCC both centralize it
    weight = nn.Parameter(torch.randn(shape))
    weight.grad = torch.randn(shape).to_sparse()
    optimizer = cls([weight], **default_hyper(name))
    with pytest.raises(RuntimeError) as error:
        optimizer.step()
    assert name in str(error.value)
    assert str(shape) in str(error.value)


def test_adagrad_gcc_keeps_the_sparse_path_for_embeddings():
    embedding = nn.Embedding(10, 3, sparse=True)
    optimizer = Adagrad_GCC(embedding.parameters(), lr=0.1)
    before = embedding.weight.detach().clone()
    embedding(torch.tensor([1, 4])).sum().backward()
    optimizer.step()
    changed = (embedding.weight != before).any(dim=1)
    assert changed.tolist() == [i in (1, 4) for i in range(10)]
    # ... and it is torch's sparse Adagrad update.
    twin = nn.Embedding(10, 3, sparse=True)
    twin.weight.data.copy_(before)
    torch_adagrad = torch.optim.Adagrad(twin.parameters(), lr=0.1)
    twin(torch.tensor([1, 4])).sum().backward()
    torch_adagrad.step()
    assert torch.allclose(twin.weight, embedding.weight, rtol=0, atol=1e-7)
    with pytest.raises(RuntimeError, match=r'Adagrad_GC.*\(10, 3\)'):
        dense_gc = Adagrad_GC(embedding.parameters(), lr=0.1)
        embedding(torch.tensor([1])).sum().backward()
        dense_gc.step()


@pytest.mark.parametrize('cls,bad,argument', [
    (SGD_GC, dict(lr=-0.1), 'lr'),
    (SGD_GC, dict(lr=0.1, momentum=-1), 'momentum'),
    (SGD_GC, dict(lr=0.1, weight_decay=-1e-4), 'weight_decay'),
    (SGD_GC, dict(lr=0.1, nesterov=True), 'nesterov'),
    (Adam_GC, dict(betas=(1.0, 0.999)), 'betas[0]'),
    (Adam_GC, dict(betas=(0.9, -0.1)), 'betas[1]'),
    (Adam_GC, dict(eps=-1.0), 'eps'),
    (Adagrad_GC, dict(lr_decay=-0.1), 'lr_decay'),
    (Adagrad_GC, dict(initial_accumulator_value=-1),
     'initial_accumulator_value'),
])
def test_invalid_hyper_parameters_name_the_argument(cls, bad, argument):
    with pytest.raises(ValueError) as error:
        cls([nn.Parameter(torch.randn(2, 2))], **bad)
    assert argument in str(error.value)
    assert cls.__name__ in str(error.value)


def test_sgd_requires_lr():
    with pytest.raises(ValueError, match='lr is required'):
        SGD_GC([nn.Parameter(torch.randn(2, 2))])


@pytest.mark.parametrize('name', list(OPTIMIZERS))
def test_misspelt_keyword_is_named(name):
    with pytest.raises(TypeError) as error:
        OPTIMIZERS[name]([nn.Parameter(torch.randn(2, 2))], lr=0.1,
                         gc_conv_ony=True)
    assert "'gc_conv_ony'" in str(error.value)
    assert name in str(error.value)


# --------------------------------------------------------------------------
# Switching GC on or off mid-run through checkpoints
# --------------------------------------------------------------------------
@pytest.mark.parametrize('first,second', [(torch.optim.SGD, SGD_GC),
                                          (SGD_GC, torch.optim.SGD)])
def test_sgd_checkpoints_load_across_gc(first, second):
    hyper = dict(lr=0.05, momentum=0.9, weight_decay=1e-3, nesterov=True)
    params = [nn.Parameter(t) for t in make_params(torch.float64)]
    optimizer = first(params, **hyper)
    run_steps(optimizer, params, 3, dtype=torch.float64)
    state = copy.deepcopy(optimizer.state_dict())

    switched = second(params, **hyper)
    switched.load_state_dict(state)
    buffers = [switched.state[p]['momentum_buffer'].clone() for p in params]
    run_steps(switched, params, 3, start=3, dtype=torch.float64)
    for p, buf in zip(params, buffers):
        # the momentum carried over and kept being updated
        assert not torch.equal(switched.state[p]['momentum_buffer'], buf)
        assert torch.isfinite(p).all()
    # From the switch on, GC (or its absence) governs the trajectory: a run
    # continued with the first optimizer ends elsewhere.
    params_b = [nn.Parameter(t) for t in make_params(torch.float64)]
    again = first(params_b, **hyper)
    run_steps(again, params_b, 6, dtype=torch.float64)
    assert not torch.equal(params[0], params_b[0])
