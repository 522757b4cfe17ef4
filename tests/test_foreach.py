"""The multi-tensor (foreach) paths of the SGD and Adam kernels.

On CPU, torch's foreach ops run one per-tensor kernel per list entry, so the
multi-tensor path must reproduce the single-tensor (reference) path bit for
bit: every check here is ``torch.equal``, no tolerance.
"""
import pytest
import torch

from mmgc.optim import (Adam_GC, Adam_GC2, Adam_GCC, Adam_GCC2, AdamW_GC,
                        AdamW_GC2, AdamW_GCC, AdamW_GCC2, GCAdam, GCAdamW,
                        GCRAdam, GCSGD, SGD_GC, SGD_GCC, SGDW_GC, SGDW_GCC,
                        Ranger)
from mmgc.optim.functional._foreach import default_to_foreach
from mmgc.optim.gc_ops import (centralize, centralize_, foreach_centralize,
                               foreach_centralize_)
from mmgc.step_memory import PeakTemporaryMemory

pytestmark = [pytest.mark.optim, pytest.mark.fast]

F32, F64 = torch.float32, torch.float64

# (shape, dtype, gradient layout); one list per param group.
GROUPS = [
    [((6, 3, 3, 3), F32, 'channels_last'), ((5, 7), F64, 'transposed'),
     ((4, 2, 3), F32, 'contiguous'), ((6, ), F32, 'contiguous'),
     ((3, 4), F32, 'contiguous')],
    [((4, 3, 2, 2), F64, 'contiguous'), ((0, 3), F32, 'contiguous'),
     ((4, 0, 3, 3), F32, 'contiguous'), ((0, ), F64, 'contiguous'),
     ((4, ), F64, 'contiguous')],
    [((3, 5), F32, 'strided'), ((2, 2, 1, 3), F32, 'channels_last')],
]
# Joins late (no gradient on the first steps): its momentum buffer and step
# count lag behind the others'.
LATE = (2, 0)


def make_params(seed=0):
    g = torch.Generator().manual_seed(seed)
    return [[
        torch.randn(shape, generator=g, dtype=F64).to(dtype).requires_grad_()
        for shape, dtype, _ in group
    ] for group in GROUPS]


def laid_out(t, layout):
    if layout == 'channels_last':
        return t.contiguous(memory_format=torch.channels_last)
    if layout == 'transposed':  # non-contiguous, same shape
        return t.t().contiguous().t()
    if layout == 'strided':  # a view every other column of a wider tensor
        wide = torch.zeros(t.shape[0], 2 * t.shape[1], dtype=t.dtype)
        wide[:, ::2] = t
        return wide[:, ::2]
    return t


def set_grads(groups, step):
    g = torch.Generator().manual_seed(100 + step)
    for gi, (params, spec) in enumerate(zip(groups, GROUPS)):
        for pi, (p, (_, _, layout)) in enumerate(zip(params, spec)):
            grad = torch.randn(p.shape, generator=g, dtype=F64) + 0.3
            if (gi, pi) == LATE and step < 2:
                p.grad = None
            else:
                p.grad = laid_out(grad.to(p.dtype), layout)


def param_groups(groups, gc_off=None, lrs=(1.0, 0.5, 2.0)):
    """One dict per group; ``gc_off``: the GC option that switches GC off,
    set on the second group."""
    out = []
    for i, params in enumerate(groups):
        group = dict(params=params)
        if i == 1 and gc_off:
            group.update(gc_off)
        out.append(group)
    return out, lrs


def run(build, steps=5):
    groups = make_params()
    optimizer = build(groups)
    for step in range(steps):
        set_grads(groups, step)
        grads = [None if p.grad is None else p.grad.clone()
                 for params in groups for p in params]
        optimizer.step()
        for p, grad in zip((p for params in groups for p in params), grads):
            if grad is not None:
                assert torch.equal(p.grad, grad), '.grad was modified'
    return groups, optimizer


def assert_same(run_a, run_b):
    (groups_a, opt_a), (groups_b, opt_b) = run_a, run_b
    flat_a = [p for params in groups_a for p in params]
    flat_b = [p for params in groups_b for p in params]
    for i, (a, b) in enumerate(zip(flat_a, flat_b)):
        assert torch.equal(a.detach(), b.detach()), f'param {i}'
        state_a, state_b = opt_a.state[a], opt_b.state[b]
        assert set(state_a) == set(state_b), f'state keys of param {i}'
        for key, value in state_a.items():
            other = state_b[key]
            if torch.is_tensor(value):
                assert type(other) is torch.Tensor
                assert value.dtype == other.dtype, f'{key} of param {i}'
                assert torch.equal(value, other), f'{key} of param {i}'
            else:
                assert value == other, f'{key} of param {i}'


# --------------------------------------------------------------------------
# The operator
# --------------------------------------------------------------------------
def operator_inputs():
    g = torch.Generator().manual_seed(3)
    r = lambda *s, dtype=F32: torch.randn(*s, generator=g, dtype=dtype)  # noqa
    return [
        r(6, 3, 3, 3).contiguous(memory_format=torch.channels_last),
        r(7, 5, dtype=F64).t(),
        r(4, 2, 3),
        r(6),
        torch.empty(0, 3),
        torch.empty(4, 0, 3, 3),
        r(5, 4, 2, 2, dtype=F64),
        r(3, 10)[:, ::2],
        r(2, 2, 2, 2, 2),
    ]


@pytest.mark.parametrize('conv_only', [False, True])
def test_foreach_centralize_equals_centralize(conv_only):
    tensors = operator_inputs()
    before = [t.clone() for t in tensors]
    expected = [centralize(t, conv_only) for t in tensors]
    got = foreach_centralize(tensors, conv_only)
    for t, b, e, o in zip(tensors, before, expected, got):
        assert torch.equal(t, b), 'input modified'
        assert o.dtype == e.dtype and torch.equal(o, e)
        # Same object exactly where centralize leaves the tensor alone.
        assert (o is t) == (e is t)
    in_place = [t.clone() for t in tensors]
    foreach_centralize_(in_place, conv_only)
    for t, e in zip(in_place, expected):
        assert torch.equal(t, e)
    one_by_one = [centralize_(t.clone(), conv_only) for t in tensors]
    for t, e in zip(one_by_one, expected):
        assert torch.equal(t, e)


def test_foreach_none_resolves_as_torch_on_cpu():
    p = [torch.zeros(2, 2)]
    assert default_to_foreach(p, p) is False


# --------------------------------------------------------------------------
# Fast path == reference path, every optimizer with both
# --------------------------------------------------------------------------
SGD_HYPER = [
    dict(lr=0.1, momentum=0.9, weight_decay=1e-2),
    dict(lr=0.05, momentum=0.9, weight_decay=1e-2, nesterov=True),
    dict(lr=0.05, momentum=0.8, dampening=0.3),
    dict(lr=0.1),
    dict(lr=0.05, momentum=0.9, nesterov=True),
]
ADAM_HYPER = [
    dict(lr=1e-2, weight_decay=1e-2),
    dict(lr=1e-2, betas=(0.8, 0.99), weight_decay=5e-2, amsgrad=True),
    dict(lr=1e-2),
]
PAPER_SGD = [SGD_GC, SGD_GCC, SGDW_GC, SGDW_GCC]
PAPER_ADAM = [Adam_GC, Adam_GCC, Adam_GC2, Adam_GCC2, AdamW_GC, AdamW_GCC,
              AdamW_GC2, AdamW_GCC2]

CASES = ([(cls, hp, None) for cls in PAPER_SGD for hp in SGD_HYPER[:3]] +
         [(cls, hp, None) for cls in PAPER_ADAM for hp in ADAM_HYPER[:2]] +
         [(GCSGD, dict(hp, **extra), None) for hp in SGD_HYPER
          for extra in (dict(), dict(maximize=True), dict(gc_conv_only=True))]
         + [(cls, dict(hp, gc_loc=loc, **extra), None)
            for cls in (GCAdam, GCAdamW) for hp in ADAM_HYPER
            for loc in (True, False)
            for extra in (dict(), dict(maximize=True))] +
         [(GCAdamW, dict(lr=1e-2, gc_loc=False, gc_conv_only=True), None)])


def case_id(case):
    cls, hp, _ = case
    return cls.__name__ + '-' + '-'.join(f'{k}={v}' for k, v in hp.items())


def builder(cls, hyper, foreach):
    gc_off = dict(use_gc=False) if cls in (GCSGD, GCAdam, GCAdamW) else None

    def build(groups):
        dicts, lrs = param_groups(groups, gc_off)
        base_lr = hyper['lr']
        for group, scale in zip(dicts, lrs):
            group['lr'] = base_lr * scale
        return cls(dicts, **hyper, foreach=foreach)

    return build


@pytest.mark.parametrize('case', CASES, ids=[case_id(c) for c in CASES])
def test_foreach_path_equals_single_tensor_path(case):
    cls, hyper, _ = case
    reference = run(builder(cls, hyper, foreach=False))
    fast = run(builder(cls, hyper, foreach=True))
    assert_same(reference, fast)
    # Non-vacuous: the run moved the weights.
    start = make_params()
    assert not torch.equal(start[0][0], reference[0][0][0].detach())


def test_late_joiner_makes_the_step_counts_differ():
    # Guards the test set-up: the Adam multi-tensor kernel batches by step
    # count, and this case is what exercises that.
    _, optimizer = run(builder(GCAdam, dict(lr=1e-2), foreach=True), steps=3)
    steps = {float(s['step']) for s in optimizer.state.values()}
    assert steps == {1.0, 3.0}


# --------------------------------------------------------------------------
# use_gc=False with foreach=True is torch's foreach path
# --------------------------------------------------------------------------
TORCH_TWINS = [
    (GCSGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=1e-2)),
    (GCSGD, torch.optim.SGD,
     dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2)),
    (GCSGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    (GCSGD, torch.optim.SGD,
     dict(lr=0.1, momentum=0.5, dampening=0.3, maximize=True,
          weight_decay=1e-2)),
    (GCAdam, torch.optim.Adam, dict(lr=1e-2)),
    (GCAdam, torch.optim.Adam,
     dict(lr=1e-2, weight_decay=1e-2, amsgrad=True, maximize=True)),
    (GCAdamW, torch.optim.AdamW, dict(lr=1e-2)),
    (GCAdamW, torch.optim.AdamW,
     dict(lr=1e-2, weight_decay=0.1, amsgrad=True, betas=(0.8, 0.99))),
]


@pytest.mark.parametrize('ours, theirs, hyper', TORCH_TWINS,
                         ids=[f'{o.__name__}-{i}'
                              for i, (o, _, _) in enumerate(TORCH_TWINS)])
def test_use_gc_false_foreach_equals_torch_foreach(ours, theirs, hyper):
    def build_theirs(groups):
        return theirs([dict(params=p) for p in groups], **hyper,
                      foreach=True)

    def build_ours(groups):
        return ours([dict(params=p) for p in groups], **hyper,
                    use_gc=False, foreach=True)

    expected = make_params()
    got = make_params()
    reference, optimizer = build_theirs(expected), build_ours(got)
    for step in range(20):
        set_grads(expected, step)
        set_grads(got, step)
        reference.step()
        optimizer.step()
    run_expected, run_got = (expected, reference), (got, optimizer)
    assert_same(run_expected, run_got)
    # Torch's state layout, so its checkpoints load.
    ours([dict(params=p) for p in make_params()], **hyper,
         use_gc=False).load_state_dict(reference.state_dict())


def test_sparse_gradients_without_gc_on_the_foreach_path():
    def grads_for(embedding, linear):
        (embedding(torch.tensor([1, 2])).sum() +
         linear(torch.ones(1, 3)).sum()).backward()

    torch.manual_seed(0)
    models = [(torch.nn.Embedding(10, 3, sparse=True), torch.nn.Linear(3, 2))
              for _ in range(2)]
    models[1][0].load_state_dict(models[0][0].state_dict())
    models[1][1].load_state_dict(models[0][1].state_dict())
    reference = torch.optim.SGD(
        [p for m in models[0] for p in m.parameters()], lr=0.1,
        foreach=False)
    optimizer = GCSGD([
        dict(params=models[1][0].parameters(), use_gc=False),
        dict(params=models[1][1].parameters())
    ], lr=0.1, foreach=True)
    for _ in range(2):
        grads_for(*models[0])
        grads_for(*models[1])
        reference.step()
        optimizer.step()
    assert torch.equal(models[0][0].weight, models[1][0].weight)


@pytest.mark.parametrize('cls, error, match', [
    (GCRAdam, ValueError, 'single-tensor'),
    (Ranger, TypeError, "unexpected keyword argument.*'foreach'"),
])
def test_single_tensor_only_optimizers_still_refuse_foreach(
        cls, error, match):
    with pytest.raises(error, match=match):
        cls([torch.zeros(2, 2, requires_grad=True)], foreach=True)


# --------------------------------------------------------------------------
# Memory: no more full-size temporaries than torch's own foreach kernel
# --------------------------------------------------------------------------
MEMORY_CASES = [
    (GCSGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=1e-4)),
    (GCSGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9)),
    (GCAdam, torch.optim.Adam, dict(lr=1e-3, weight_decay=1e-4)),
    (GCAdam, torch.optim.Adam, dict(lr=1e-3, gc_loc=True)),
    (GCAdamW, torch.optim.AdamW, dict(lr=1e-3, weight_decay=1e-4)),
    (GCAdamW, torch.optim.AdamW, dict(lr=1e-3, gc_loc=True, amsgrad=True)),
    (Adam_GC, torch.optim.Adam, dict(lr=1e-3, weight_decay=1e-4)),
    (AdamW_GC, torch.optim.AdamW, dict(lr=1e-3, weight_decay=1e-4)),
    (SGD_GC, torch.optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=1e-4)),
]


@pytest.mark.parametrize('ours, theirs, hyper', MEMORY_CASES,
                         ids=[f'{o.__name__}-{i}'
                              for i, (o, _, _) in enumerate(MEMORY_CASES)])
def test_foreach_step_holds_no_more_temporaries_than_torch(
        ours, theirs, hyper):
    """The second step (state exists) of a ResNet-like parameter set: peak
    temporaries at most torch's plus the small per-slice means and one
    tensor-sized temporary (the updates formed one tensor at a time)."""
    shapes = [(64, 32, 3, 3), (64, ), (128, 64, 3, 3), (128, ), (100, 128),
              (100, ), (64, 64, 1, 1)]
    peaks = {}
    for label, cls, kwargs in (('torch', theirs, {}), ('mmgc', ours, {})):
        g = torch.Generator().manual_seed(0)
        params = [torch.randn(s, generator=g).requires_grad_()
                  for s in shapes]
        hp = hyper if label == 'mmgc' else {
            k: v for k, v in hyper.items() if k != 'gc_loc'}
        optimizer = cls(params, **hp, **kwargs, foreach=True)
        for _ in range(2):
            for p in params:
                p.grad = torch.randn(p.shape, generator=g)
            with PeakTemporaryMemory() as tracker:
                optimizer.step()
        peaks[label] = tracker.peak
    largest = max(torch.Size(s).numel() for s in shapes) * 4
    slack = largest + 4 * sum(s[0] for s in shapes)  # + the means
    assert peaks['mmgc'] <= peaks['torch'] + slack, peaks
