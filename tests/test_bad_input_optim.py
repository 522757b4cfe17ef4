"""Bad or unusual input to the optimizers and the constructor, as a careless
user writes it: each case either behaves as the user would expect or stops
with an error that names the option and the fix."""
import pytest
import torch
from mmengine.logging import MMLogger
from torch import nn

import mmgc  # noqa: F401  (registers the optimizers and the constructor)
from mmgc.engine import GCOptimWrapperConstructor
from mmgc.optim import (SGD_GC, SGD_GCC, SGDW_GC, Adagrad_GC, Adam_GC,
                        Adam_GC2, AdamW_GC2, GCAdam, GCAdamW, GCRAdam, GCSGD,
                        Lookahead, Ranger, gc_coverage, gc_wrapped)
from mmgc.optim.gc_coverage import SKIP_ONE_ELEMENT_SLICES

pytestmark = [pytest.mark.optim, pytest.mark.fast]


class Net(nn.Module):
    """A conv, an fc and the two layers whose output slices hold one element
    each: a 1x1 conv on one input channel and Linear(1, n)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 2)
        self.point = nn.Conv2d(1, 3, 1)
        self.lift = nn.Linear(1, 3)

    def forward(self, x):
        y = self.fc(self.conv(x).mean(dim=(2, 3)))
        z = self.point(y[:, :1, None, None]).flatten(1)
        return (z * self.lift(y[:, 1:])).sum()


ALL_GC_OPTIMIZERS = {
    'SGD_GC': lambda p: SGD_GC(p, lr=0.1, momentum=0.9, weight_decay=1e-2),
    'SGDW_GC': lambda p: SGDW_GC(p, lr=0.1, weight_decay=1e-2),
    'Adam_GC': lambda p: Adam_GC(p, lr=1e-2),
    'Adam_GC2': lambda p: Adam_GC2(p, lr=1e-2),
    'AdamW_GC2': lambda p: AdamW_GC2(p, lr=1e-2, weight_decay=1e-2),
    'Adagrad_GC': lambda p: Adagrad_GC(p, lr=0.1),
    'GCSGD': lambda p: GCSGD(p, lr=0.1),
    'GCAdamW': lambda p: GCAdamW(p, lr=1e-2),
    'GCAdamW_gradient': lambda p: GCAdamW(p, lr=1e-2, gc_loc='gradient'),
    'GCRAdam': lambda p: GCRAdam(p, lr=1e-2),
    'Ranger': lambda p: Ranger(p, lr=1e-2),
    'GCWrapped<SGD>': lambda p: gc_wrapped(torch.optim.SGD)(p, lr=0.1),
}


@pytest.mark.parametrize('name', sorted(ALL_GC_OPTIMIZERS))
def test_one_element_slices_train_and_are_reported(name):
    # GC of a slice that is its own mean would zero the whole gradient.
    torch.manual_seed(0)
    model = Net()
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    optimizer = ALL_GC_OPTIMIZERS[name](model.parameters())
    for _ in range(8):
        optimizer.zero_grad()
        model(torch.randn(2, 3, 5, 5)).backward()
        optimizer.step()
    for key in ('point.weight', 'lift.weight', 'conv.weight', 'fc.weight'):
        assert not torch.equal(before[key], model.get_parameter(key)), key
    skipped = {tuple(c.shape): c.skipped for c in gc_coverage(optimizer)}
    assert skipped[(3, 1, 1, 1)] == SKIP_ONE_ELEMENT_SLICES
    assert skipped[(3, 1)] == SKIP_ONE_ELEMENT_SLICES
    assert skipped[(4, 3, 3, 3)] is None


def test_one_element_slices_are_named_in_the_summary(tmp_path):
    MMLogger.get_instance('one_element', log_file=str(tmp_path / 'log'))
    GCOptimWrapperConstructor(dict(optimizer=dict(type='SGD', lr=0.1)))(
        Net())
    line = next(line for line in (tmp_path / 'log').read_text().splitlines()
                if 'GC: ' in line)
    assert 'GC: 2 of 8 parameter tensors are centralized' in line
    assert (f'2 {SKIP_ONE_ELEMENT_SLICES}: point.weight, lift.weight'
            in line)


def test_gcc_reason_still_names_the_rule():
    skipped = {tuple(c.shape): c.skipped
               for c in gc_coverage(SGD_GCC(Net().parameters(), lr=0.1))}
    assert 'outside the GCC rule' in skipped[(3, 1)]
    assert skipped[(3, 1, 1, 1)] == SKIP_ONE_ELEMENT_SLICES


# --------------------------------------------------------------------------
# Values a config can carry
# --------------------------------------------------------------------------
def _params():
    return [nn.Parameter(torch.ones(2, 2))]


@pytest.mark.parametrize('build, error, match', [
    (lambda: SGD_GC(_params(), lr=0.1, momentum=1.5), ValueError,
     r'momentum=1.5; it must be in \[0, 1\)'),
    (lambda: GCSGD(_params(), lr=0.1, momentum=1.0), ValueError,
     r'momentum=1.0; it must be in \[0, 1\)'),
    (lambda: GCAdam(_params(), betas=(0.9, 0.99, 0.5)), ValueError,
     r'betas must be a pair'),
    (lambda: GCRAdam(_params(), betas=(0.9, )), ValueError,
     r'betas must be a pair'),
    (lambda: Adam_GC(_params(), betas=(0.9, 0.99, 0.5)), ValueError,
     r'betas must be a pair'),
    (lambda: SGD_GC(_params(), lr=0.1, momentum=0.9, nesterov='no'),
     TypeError, r"nesterov must be True or False, got 'no'"),
    (lambda: GCSGD(_params(), lr=0.1, momentum=0.9, nesterov='no'),
     TypeError, r"nesterov must be True or False, got 'no'"),
    (lambda: SGD_GC(_params(), lr=float('inf')), ValueError,
     r'lr=inf is not finite'),
    (lambda: GCAdamW(_params(), lr=float('nan')), ValueError,
     r'lr=nan is not finite'),
    (lambda: GCSGD(_params(), lr='0.1'), TypeError,
     r"GCSGD: lr must be a number, got '0.1' \(str\)"),
    (lambda: Adam_GC(_params(), lr='1e-3'), TypeError,
     r"Adam_GC: lr must be a number, got '1e-3'"),
    (lambda: GCAdam(_params(), amsgrad='yes'), TypeError,
     r"amsgrad must be True or False"),
    (lambda: Lookahead(optimizer=SGD_GC(_params(), lr=0.1), alpha='0.5'),
     TypeError, r"Lookahead: alpha must be a number"),
])
def test_bad_values_name_the_option(build, error, match):
    with pytest.raises(error, match=match):
        build()


@pytest.mark.parametrize('threshold', [3, 0, -3])
def test_ranger_threshold_under_4_is_refused(threshold):
    with pytest.raises(ValueError, match='N_sma_threshold must be >= 4'):
        Ranger(_params(), N_sma_threshold=threshold)


def test_ranger_threshold_4_stays_real():
    model = Net()
    optimizer = Ranger(model.parameters(), lr=1e-2, N_sma_threshold=4)
    for _ in range(10):
        optimizer.zero_grad()
        model(torch.randn(2, 3, 5, 5)).backward()
        optimizer.step()
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all()
               for p in model.parameters())


def test_lookahead_around_ranger_is_refused():
    with pytest.raises(ValueError, match=r'Ranger already includes Lookahead '
                       r'\(k=6, alpha=0.5\)'):
        Lookahead(optimizer=Ranger(_params()), k=5)
    with pytest.raises(ValueError, match='already includes Lookahead'):
        Lookahead(_params(), optimizer=dict(type='Ranger'), k=5)


# --------------------------------------------------------------------------
# Checkpoints of another optimizer
# --------------------------------------------------------------------------
def _state_after_a_step(make):
    model = Net()
    optimizer = make(model.parameters())
    model(torch.randn(2, 3, 5, 5)).backward()
    optimizer.step()
    return optimizer.state_dict()


@pytest.mark.parametrize('writer, reader, found', [
    (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
     lambda p: Adam_GC(p), "'momentum_buffer'"),
    (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
     lambda p: GCAdam(p), "'momentum_buffer'"),
    (lambda p: torch.optim.Adam(p), lambda p: SGD_GC(p, lr=0.1),
     "'exp_avg'"),
    (lambda p: Adam_GC(p), lambda p: Adagrad_GC(p), "'exp_avg'"),
    (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
     lambda p: Lookahead(optimizer=GCRAdam(p)), "'momentum_buffer'"),
])
def test_state_of_another_optimizer_is_refused_on_load(writer, reader, found):
    state = _state_after_a_step(writer)
    optimizer = reader(Net().parameters())
    with pytest.raises(ValueError, match=r'cannot load this optimizer state'
                       rf'.*{found}.*--load-from'):
        optimizer.load_state_dict(state)


def test_groups_of_another_optimizer_without_state_are_refused():
    # Saved before the first step: no per-parameter state, but Adam's groups
    # have no momentum for SGD_GC to read.
    state = torch.optim.Adam(Net().parameters()).state_dict()
    with pytest.raises(ValueError, match=r"param groups without \['momentum'"):
        SGD_GC(Net().parameters(), lr=0.1).load_state_dict(state)


@pytest.mark.parametrize('writer, reader', [
    (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
     lambda p: SGD_GC(p, lr=0.1, momentum=0.9)),
    (lambda p: torch.optim.Adam(p, amsgrad=True),
     lambda p: GCAdam(p, amsgrad=True)),
    (lambda p: Ranger(p), lambda p: GCRAdam(p)),
    (lambda p: torch.optim.RAdam(p), lambda p: Ranger(p)),
])
def test_state_of_the_same_family_still_loads(writer, reader):
    state = _state_after_a_step(writer)
    reader(Net().parameters()).load_state_dict(state)


# --------------------------------------------------------------------------
# The constructor
# --------------------------------------------------------------------------
def test_custom_key_that_matches_nothing_is_refused():
    constructor = GCOptimWrapperConstructor(
        dict(optimizer=dict(type='SGD', lr=0.1)),
        dict(custom_keys={'fcc': dict(use_gc=False)}))
    with pytest.raises(ValueError, match=r"custom_keys\['fcc'\] matches no "
                       r"parameter of Net.*Did you mean 'fc'"):
        constructor(Net())


def test_a_gc_wrapped_class_as_type_is_built():
    wrapped = gc_wrapped(torch.optim.SGD)
    optimizer = GCOptimWrapperConstructor(
        dict(optimizer=dict(type=wrapped, lr=0.1)))(Net()).optimizer
    assert type(optimizer) is wrapped
    assert optimizer.param_groups[0]['use_gc'] is True


# --------------------------------------------------------------------------
# Every entry is checked: add_param_group and load_state_dict too
# --------------------------------------------------------------------------
EVERY_FAMILY = {
    'GCSGD': lambda p: GCSGD(p, lr=0.1, momentum=0.9),
    'SGD_GC': lambda p: SGD_GC(p, lr=0.1, momentum=0.9),
    'GCAdamW': lambda p: GCAdamW(p),
    'Adam_GC': lambda p: Adam_GC(p),
    'GCRAdam': lambda p: GCRAdam(p),
    'Adagrad_GC': lambda p: Adagrad_GC(p),
}


@pytest.mark.parametrize('name', sorted(EVERY_FAMILY))
@pytest.mark.parametrize('key, value, error, match', [
    ('lr', '0.1', TypeError, r"lr must be a number, got '0.1' \(str\)"),
    ('lr', -1.0, ValueError, r'invalid lr=-1.0; it must be >= 0'),
    ('weight_decay', float('nan'), ValueError, 'weight_decay=nan is not '
     'finite'),
])
def test_add_param_group_checks_what_init_checks(name, key, value, error,
                                                 match):
    optimizer = EVERY_FAMILY[name](_params())
    extra = dict(params=[nn.Parameter(torch.ones(3, 3))], **{key: value})
    with pytest.raises(error, match=f'{name}: {match}'):
        optimizer.add_param_group(extra)
    assert len(optimizer.param_groups) == 1  # the refused group is not kept


def test_add_param_group_refuses_a_momentum_that_diverges():
    optimizer = GCSGD(_params(), lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r'GCSGD: invalid momentum=2.0; it '
                       r'must be in \[0, 1\)'):
        optimizer.add_param_group({'params': [nn.Parameter(torch.ones(2))],
                                   'momentum': 2.0})
    with pytest.raises(ValueError, match='nesterov=True requires momentum'):
        optimizer.add_param_group({'params': [nn.Parameter(torch.ones(2))],
                                   'nesterov': True, 'dampening': 0.5})


@pytest.mark.parametrize('name', sorted(EVERY_FAMILY))
def test_load_state_dict_checks_the_saved_groups(name):
    optimizer = EVERY_FAMILY[name](_params())
    state = optimizer.state_dict()
    state['param_groups'][0]['lr'] = 'fast'
    with pytest.raises(TypeError, match=f"{name}: lr must be a number, got "
                       "'fast'"):
        EVERY_FAMILY[name](_params()).load_state_dict(state)


@pytest.mark.parametrize('build, match', [
    (lambda: GCSGD(_params(), lr=0.1, foreach='no'),
     r"GCSGD: foreach must be True or False, got 'no'"),
    (lambda: GCAdam(_params(), maximize='yes'),
     r"GCAdam: maximize must be True or False, got 'yes'"),
    (lambda: SGD_GC(_params(), lr=0.1, foreach=1),
     r'SGD_GC: foreach must be True or False, got 1 \(int\)'),
])
def test_flags_given_as_other_values_are_refused(build, match):
    with pytest.raises(TypeError, match=match):
        build()


@pytest.mark.parametrize('build, match', [
    (lambda: SGD_GCC(_params(), lr=0.1, gc_conv_only=False),
     r'SGD_GCC fixes gc_conv_only=True'),
    (lambda: SGDW_GC(_params(), lr=0.1, decoupled_weight_decay=False),
     r'SGDW_GC fixes decoupled_weight_decay=True'),
    (lambda: Adam_GC2(_params(), gc_loc='gradient'),
     r"Adam_GC2 fixes gc_loc='update'"),
    (lambda: SGD_GC([dict(params=_params(), use_gc=False)], lr=0.1),
     r'SGD_GC fixes use_gc=True'),
])
def test_a_paper_optimizer_refuses_to_change_what_its_name_fixes(build,
                                                                match):
    with pytest.raises(ValueError, match=match):
        build()


def test_a_checkpoint_with_other_gc_options_does_not_load_into_a_paper_one():
    state = GCSGD(_params(), lr=0.1, use_gc=False).state_dict()
    with pytest.raises(ValueError, match='SGD_GC fixes use_gc=True'):
        SGD_GC(_params(), lr=0.1).load_state_dict(state)


@pytest.mark.parametrize('name', sorted(EVERY_FAMILY))
def test_complex_parameters_are_refused(name):
    # torch's counterparts handle them as pairs of reals; the GC kernels
    # would centralize something else.
    weight = nn.Parameter(torch.randn(3, 4, dtype=torch.complex64))
    weight.grad = torch.randn(3, 4, dtype=torch.complex64)
    with pytest.raises(RuntimeError, match=f'{name} does not support '
                       'complex parameters'):
        EVERY_FAMILY[name]([weight]).step()
