"""What ``import mmgc`` loads and registers, and what the part packages add.

``import mmgc`` registers the optimizers and engine parts in mmengine's root
registries and imports none of mmdet, mmcv and mmpretrain; ``import
mmgc.reid`` registers the ReID parts in mmdet's registries and ``import
mmgc.classification`` DenseNetCIFAR in mmpretrain's. Each check runs in a
fresh interpreter, since this test process may have imported anything.
"""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.registry import Registry

from _tools import load_tool

from mmgc.compat import installed_version, mmdet_reid_problem
from mmgc.register import _register, register_core

# The fast lane skips the tests that import mmdet or mmpretrain.
pytestmark = [pytest.mark.optim]

REPO_ROOT = Path(__file__).resolve().parents[1]

needs_mmdet_reid = pytest.mark.skipif(
    mmdet_reid_problem(installed_version('mmdet')) is not None,
    reason='mmgc.reid needs mmdet >= 3.1')
needs_mmpretrain = pytest.mark.skipif(
    importlib.util.find_spec('mmpretrain') is None,
    reason='mmgc.classification needs mmpretrain')


def run_python(code: str) -> list:
    """Run ``code`` in a fresh interpreter; the JSON of its last line."""
    result = subprocess.run([sys.executable, '-c', code],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.fast
def test_import_mmgc_loads_no_model_package_and_registers_the_core():
    heavy, registered = run_python(
        'import json, sys\n'
        'import mmgc\n'
        'from mmengine import registry as r\n'
        'from mmgc.compat import mmengine_has_strategies\n'
        'heavy = [m for m in ("mmdet", "mmcv", "mmpretrain")'
        ' if m in sys.modules]\n'
        'names = [(r.OPTIMIZERS, n) for n in mmgc.MMGC_OPTIMIZERS] + [\n'
        '    (r.OPTIM_WRAPPER_CONSTRUCTORS, "GCOptimWrapperConstructor"),\n'
        '    (r.HOOKS, "GCStatsHook"), (r.HOOKS, "GradientStatsHook"),\n'
        '    (r.MODEL_WRAPPERS, "CPUDistributedDataParallel")]\n'
        'if mmengine_has_strategies():\n'
        '    names.append((r.STRATEGIES, "GCFSDPStrategy"))\n'
        'print(json.dumps([heavy, {n: reg.get(n) is not None'
        ' for reg, n in names}]))')
    assert heavy == []
    assert len(registered) >= 23 and all(registered.values()), registered


@pytest.mark.reid
@needs_mmdet_reid
def test_import_mmgc_reid_registers_in_mmdet():
    assert run_python(
        'import json, sys\n'
        'import mmgc\n'
        'assert "mmdet" not in sys.modules\n'
        'import mmgc.reid as reid\n'
        'from mmdet import registry as r\n'
        'found = [r.MODELS.get("BNNeckHead") is reid.BNNeckHead,\n'
        '         r.MODELS.get("CenterLoss") is reid.CenterLoss,\n'
        '         r.DATASETS.get("Market1501Dataset")'
        ' is reid.Market1501Dataset,\n'
        '         r.DATA_SAMPLERS.get("PKBatchSampler")'
        ' is reid.PKBatchSampler,\n'
        '         r.METRICS.get("QueryGalleryReIDMetric")'
        ' is reid.QueryGalleryReIDMetric,\n'
        # mmgc's optimizers resolve from mmdet's scope (root registry).
        '         r.OPTIMIZERS.get("SGD_GCC") is not None]\n'
        'print(json.dumps(found))') == [True] * 6


@pytest.mark.classification
@needs_mmpretrain
def test_import_mmgc_classification_registers_in_mmpretrain():
    assert run_python(
        'import json, sys\n'
        'import mmgc\n'
        'assert "mmpretrain" not in sys.modules\n'
        'import mmgc.classification as cls\n'
        'from mmpretrain.registry import MODELS, OPTIMIZERS\n'
        'print(json.dumps([MODELS.get("DenseNetCIFAR") is cls.DenseNetCIFAR,'
        ' OPTIMIZERS.get("SGD_GC") is not None]))') == [True, True]


@pytest.mark.classification
@needs_mmpretrain
def test_densenet_config_imports_what_registers_its_backbone():
    """Loading the config (as tools/train.py does) runs its custom_imports,
    which register DenseNetCIFAR; nothing else imports it."""
    config = str(REPO_ROOT / 'configs' / 'classification' / 'densenet' /
                 'densenet121_gc_1xb128_cifar100.py')
    assert run_python(
        'import json\n'
        'from mmengine.config import Config\n'
        f'cfg = Config.fromfile({config!r})\n'
        'from mmpretrain.registry import MODELS\n'
        'print(json.dumps([cfg.model.backbone.type,'
        ' MODELS.get("DenseNetCIFAR") is not None]))') == [
            'DenseNetCIFAR', True]


@pytest.mark.fast
def test_registering_again_is_a_no_op():
    register_core()
    register_core()
    registry = Registry('mmgc import test')
    part = type('Part', (), {'__module__': 'mmgc_test_parts'})
    _register(registry, part)
    _register(registry, part)
    assert registry.get('Part') is part
    # The same class re-created (its module reloaded) replaces the old one.
    reloaded = type('Part', (), {'__module__': 'mmgc_test_parts'})
    _register(registry, reloaded)
    assert registry.get('Part') is reloaded


@pytest.mark.fast
def test_a_different_class_with_a_taken_name_is_refused():
    registry = Registry('mmgc import test')
    _register(registry, type('Part', (), {'__module__': 'other_package'}))
    with pytest.raises(KeyError, match='already holds Part '
                       r'\(other_package.Part\), so mmgc cannot register'):
        _register(registry, type('Part', (), {'__module__': 'mmgc_parts'}))


@pytest.mark.tools
@pytest.mark.fast
def test_import_time_reads_top_level_cumulative_times():
    import_time = load_tool('import_time')
    report = '\n'.join([
        'import time: self [us] | cumulative | imported package',
        'import time:       120 |        120 |   mmgc.compat',
        'import time:        30 |      41000 | mmgc',
        'import time:         5 |          5 |     mmgc.optim',
    ])
    assert import_time.parse_importtime(report) == {'mmgc': 41000}
    assert import_time.imported_modules(report) == [
        'mmgc.compat', 'mmgc', 'mmgc.optim']
