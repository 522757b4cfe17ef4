"""mmgc.compat and mmgc.torch_compat against the installed torch, numpy and
mmengine: each lane of the support matrix runs these, so a version table that
is wrong for one release fails on that release."""
import importlib
import inspect
import math
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from mmgc import compat, torch_compat
from mmgc.optim.gc_wrapped import gc_wrapped
from mmgc.optim.gc_radam import GCRAdam

pytestmark = [pytest.mark.optim, pytest.mark.fast]


@pytest.mark.parametrize('module, kernel', [
    ('adam', '_single_tensor_adam'),
    ('adam', '_multi_tensor_adam'),
    ('radam', '_single_tensor_radam'),
])
def test_adam_style_matches_the_installed_torch_source(module, kernel):
    module = importlib.import_module(f'torch.optim.{module}')
    source = inspect.getsource(getattr(module, kernel))
    style = torch_compat.TORCH_ADAM_STYLE
    assert ('lerp_' in source) == style.lerp_first_moment
    uses_math_sqrt = '_dispatch_sqrt' in source or 'math.sqrt' in source
    assert uses_math_sqrt == (style.sqrt is math.sqrt)


def test_option_table_matches_the_installed_torch():
    for (name, option), since in torch_compat.TORCH_OPTION_SINCE.items():
        cls = getattr(torch.optim, name)
        has_it = option in inspect.signature(cls.__init__).parameters
        assert has_it == torch_compat.torch_version_at_least(since), (
            name, option)


def test_an_option_torch_lacks_is_refused_naming_the_release():
    wrapped = gc_wrapped(torch.optim.SGD)
    params = [torch.nn.Parameter(torch.ones(2, 2))]
    with pytest.raises(TypeError) as error:
        wrapped(params, lr=0.1, frobnicate=True)
    message = str(error.value)
    assert "'frobnicate'" in message and torch.__version__ in message
    since_table = torch_compat.TORCH_OPTION_SINCE.items()
    missing = [(cls, option, since)
               for (cls, option), since in since_table
               if not torch_compat.torch_version_at_least(since)]
    for cls_name, option, since in missing:
        with pytest.raises(TypeError, match=f'added in torch {since}'):
            gc_wrapped(getattr(torch.optim, cls_name))(
                params, **{option: False})


def test_options_an_older_torch_lacks_live_in_the_param_groups():
    # GCRAdam implements decoupled decay and maximize itself, whatever torch.
    optimizer = GCRAdam([torch.nn.Parameter(torch.ones(3, 2))],
                        decoupled_weight_decay=True, maximize=True)
    group = optimizer.param_groups[0]
    assert group['decoupled_weight_decay'] is True
    assert group['maximize'] is True
    optimizer.add_param_group(dict(params=[torch.nn.Parameter(torch.ones(2))]))
    assert optimizer.param_groups[1]['decoupled_weight_decay'] is True


def test_unhooked_step_runs_the_hooks_once():
    calls = []
    optimizer = gc_wrapped(torch.optim.SGD)(
        [torch.nn.Parameter(torch.ones(2, 2))], lr=0.1)
    optimizer.register_step_pre_hook(lambda *a: calls.append('pre'))
    optimizer.param_groups[0]['params'][0].grad = torch.ones(2, 2)
    optimizer.step()
    assert calls == ['pre']


def test_default_to_foreach_is_single_tensor_on_cpu():
    assert torch_compat.default_to_foreach([torch.ones(2), None]) is False


def test_tree_leaves():
    assert torch_compat.tree_leaves({'a': [1, (2, 3)], 'b': 4}) == [1, 2, 3, 4]


def test_numpy_globals_cover_the_dtypes_a_checkpoint_names():
    classes = set(compat.mmengine_checkpoint_globals())
    for dtype in (np.float64, np.float32, np.int64, np.bool_):
        assert type(np.dtype(dtype)) in classes


def test_checkpoint_allow_list_is_installed_exactly_from_torch_2_6():
    compat.allow_mmengine_checkpoints()
    getter = getattr(torch.serialization, 'get_safe_globals', None)
    if torch_compat.torch_version_at_least('2.6'):
        assert compat.mmengine_checkpoint_globals()[0] in getter()
    else:
        # Nothing to extend: torch.load unpickles fully by default.
        assert getter is None or compat.mmengine_checkpoint_globals()[0] \
            not in getter()


def test_history_buffer_getattr_is_restricted():
    from mmengine.logging.history_buffer import HistoryBuffer
    getattr_ = compat.mmengine_checkpoint_globals()[-1][0]
    assert getattr_(HistoryBuffer, 'mean') is HistoryBuffer.mean
    with pytest.raises(pickle.UnpicklingError):
        getattr_(HistoryBuffer, '__init__')


def test_import_mmgc_in_a_fresh_interpreter():
    # Nothing imported before mmgc may be relied on (numpy 1.26's
    # numpy._core exists but does not load its submodules).
    result = subprocess.run(
        [sys.executable, '-c',
         'import mmgc; print(len(mmgc.MMGC_OPTIMIZERS))'],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    # The last line: an installed DeepSpeed, which mmengine's strategies
    # import, prints a notice of its own first.
    assert result.stdout.strip().splitlines()[-1] == '20'


@pytest.mark.parametrize('version', ['3.1.0', '3.3.0'])
def test_mmdet_with_reid_models_has_no_problem(version):
    assert compat.mmdet_reid_problem(version) is None


@pytest.mark.parametrize('version', ['3.0.0', '3.0.0rc6', None])
def test_mmdet_without_reid_models_is_named_with_the_fix(version):
    problem = compat.mmdet_reid_problem(version)
    assert "pip install 'mmdet>=3.1,<3.4'" in problem
    if version is not None:
        assert f'installed mmdet {version} has no ReID models' in problem
    else:
        assert 'mmdet is not installed' in problem


def test_installed_version_of_present_and_missing_packages():
    assert compat.installed_version('numpy') == np.__version__
    assert compat.installed_version('mmgc_no_such_package') is None


needs_strategies = pytest.mark.skipif(
    not compat.mmengine_has_strategies(),
    reason='FlexibleRunner and its strategies came with mmengine 0.8')


@needs_strategies
def test_deepspeed_strategy_is_registered_or_says_what_is_missing():
    from mmengine.registry import STRATEGIES
    problem = compat.mmengine_deepspeed_problem()
    if problem is None:
        from mmengine._strategy import DeepSpeedStrategy
        strategy = STRATEGIES.get('GCDeepSpeedStrategy')
        assert issubclass(strategy, DeepSpeedStrategy)
    else:
        # mmengine 0.8.0 without DeepSpeed: `import mmgc` works, and a
        # config that asks for the strategy is told what to install.
        with pytest.raises(RuntimeError, match=r"GCDeepSpeedStrategy cannot "
                           r"be built.*DS_BUILD_OPS=0 pip install"):
            STRATEGIES.build(dict(type='GCDeepSpeedStrategy'))


@needs_strategies
def test_missing_deepspeed_strategy_is_named_with_the_fix(monkeypatch):
    import mmengine._strategy
    monkeypatch.delattr(mmengine._strategy, 'DeepSpeedStrategy',
                        raising=False)
    problem = compat.mmengine_deepspeed_problem()
    mmengine_version = compat.installed_version('mmengine')
    assert problem.startswith(f'mmengine {mmengine_version} has no '
                              'DeepSpeedStrategy here (cannot import name')
    assert "DS_BUILD_OPS=0 pip install 'mmgc[deepspeed]'" in problem


def test_an_unavailable_part_refuses_to_build_with_the_reason():
    from mmgc.register import unavailable_part
    part = unavailable_part('GCSomething', 'install something')
    assert part.__name__ == 'GCSomething'
    with pytest.raises(RuntimeError, match='^GCSomething cannot be built in '
                       'this environment: install something$'):
        part(anything=1)
