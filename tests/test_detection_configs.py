"""Every detection config loads; each baseline/GC pair differs only in the
optimizer; every model and train pipeline builds on the built-in dataset.

Paper configs keep mmdet's ImageNet ``init_cfg`` (what COCO users need);
here it is removed before building, so nothing is downloaded.
"""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import OPTIMIZERS, init_default_scope

from _config_diff import flatten
import mmgc  # noqa: F401
from mmgc.datasets import TOY_COCO_CLASSES, missing_dataset_files
from _det_utils import REPO_ROOT, TINY_TOY_COCO

pytestmark = [pytest.mark.detection, pytest.mark.fast]

TOY_DATA = TINY_TOY_COCO  # what the toy_root fixture writes (conftest.py)
CONFIG_DIRS = ('configs/faster_rcnn', 'configs/mask_rcnn', 'configs/toy')
# The paper's detectors (SGD and SGD_GC); RTMDet and DINO, with AdamW and
# the constructor, are tests/test_rtmdet_dino.py's.
CONFIGS = sorted(p for d in CONFIG_DIRS for p in (REPO_ROOT / d).glob('*.py')
                 if p.name.startswith(('faster-rcnn', 'mask-rcnn')))
GC_CONFIGS = [p for p in CONFIGS if '_gc_' in p.name]
BASELINES = [p for p in CONFIGS if '_gc_' not in p.name]


def baseline_of(gc_config: Path) -> Path:
    return gc_config.with_name(gc_config.name.replace('_gc_', '_', 1))


TWIN_OF = {baseline_of(g): g for g in GC_CONFIGS}


def load(path: Path) -> Config:
    return Config.fromfile(str(path))


def test_the_config_set_covers_every_paper_row():
    expected_baselines = [
        'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
        'faster_rcnn/faster-rcnn_r101_fpn_1x_coco.py',
        'faster_rcnn/faster-rcnn_x101-32x4d_fpn_1x_coco.py',
        'faster_rcnn/faster-rcnn_x101-64x4d_fpn_1x_coco.py',
        'faster_rcnn/faster-rcnn_r50_fpn_amp-1x_coco.py',
        'mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
        'mask_rcnn/mask-rcnn_r101_fpn_1x_coco.py',
        'mask_rcnn/mask-rcnn_x101-32x4d_fpn_1x_coco.py',
        'mask_rcnn/mask-rcnn_x101-64x4d_fpn_1x_coco.py',
        'mask_rcnn/mask-rcnn_r50_fpn_4conv1fc_1x_coco.py',
        'mask_rcnn/mask-rcnn_r101_fpn_gn-all_1x_coco.py',
        'mask_rcnn/mask-rcnn_r50_fpn_gn-ws-all_1x_coco.py',
        'toy/faster-rcnn_toy-r18_fpn_1x_toycoco.py',
        'toy/mask-rcnn_toy-r18_fpn_1x_toycoco.py',
    ]
    for relative in expected_baselines:
        assert (REPO_ROOT / 'configs' / relative).is_file(), relative
        assert REPO_ROOT / 'configs' / relative in TWIN_OF, (
            f'{relative} has no GC twin')
    # Every GC config has its baseline and vice versa.
    assert sorted(baseline_of(g) for g in GC_CONFIGS) == sorted(BASELINES)


@pytest.mark.parametrize('config', CONFIGS, ids=lambda p: p.name)
def test_config_loads_with_mmgc_and_a_registered_optimizer(config):
    cfg = load(config)
    assert cfg.custom_imports == dict(
        imports=['mmgc'], allow_failed_imports=False)
    optimizer = cfg.optim_wrapper.optimizer
    expected = 'SGD_GC' if '_gc_' in config.name else 'SGD'
    assert optimizer.type == expected
    assert OPTIMIZERS.get(optimizer.type) is not None
    assert cfg.default_scope == 'mmdet'


@pytest.mark.parametrize('gc_config', GC_CONFIGS, ids=lambda p: p.name)
def test_gc_twin_differs_from_baseline_only_in_the_optimizer(gc_config):
    baseline = flatten(load(baseline_of(gc_config)).to_dict())
    twin = flatten(load(gc_config).to_dict())
    changed = {
        key: (baseline.get(key), twin.get(key))
        for key in baseline.keys() | twin.keys()
        if baseline.get(key) != twin.get(key)
    }
    assert changed == {'optim_wrapper.optimizer.type': ('SGD', 'SGD_GC')}


def test_gn_rows_use_the_1x_schedule():
    for name in ('mask-rcnn_r101_fpn_gn-all_1x_coco.py',
                 'mask-rcnn_r50_fpn_gn-ws-all_1x_coco.py'):
        cfg = load(REPO_ROOT / 'configs/mask_rcnn' / name)
        assert cfg.train_cfg.max_epochs == 12
        steps = [s for s in cfg.param_scheduler if s.type == 'MultiStepLR']
        assert steps[0].milestones == [8, 11] and steps[0].end == 12
        assert cfg.model.backbone.norm_cfg.type == 'GN'
        assert cfg.model.roi_head.bbox_head.type == 'Shared4Conv1FCBBoxHead'
    gn_ws = load(REPO_ROOT / 'configs/mask_rcnn/'
                 'mask-rcnn_r50_fpn_gn-ws-all_1x_coco.py')
    assert gn_ws.model.backbone.conv_cfg.type == 'ConvWS'


def _mmdet_config(relative: str) -> Config:
    import mmdet
    return load(Path(mmdet.__file__).parent / '.mim/configs' / relative)


@pytest.mark.parametrize('ours, mmdets', [
    ('mask-rcnn_r101_fpn_gn-all_1x_coco.py',
     'gn/mask-rcnn_r101_fpn_gn-all_2x_coco.py'),
    ('mask-rcnn_r50_fpn_gn-ws-all_1x_coco.py',
     'gn+ws/mask-rcnn_r50_fpn_gn-ws-all_2x_coco.py'),
])
def test_gn_rows_are_mmdets_2x_configs_on_the_1x_schedule(ours, mmdets):
    """Where mmdet has no 1x config, ours differs from its 2x one only in the
    schedule (and in importing mmgc)."""
    ours = flatten(load(REPO_ROOT / 'configs/mask_rcnn' / ours).to_dict())
    theirs = flatten(_mmdet_config(mmdets).to_dict())
    changed = {
        key: (theirs.get(key), ours.get(key))
        for key in ours.keys() | theirs.keys()
        if ours.get(key) != theirs.get(key) and not key.endswith('_scope_')
        and not key.startswith('custom_imports')
    }
    changed.pop('max_epochs', None)  # a helper variable of mmdet's config
    assert changed == {
        'train_cfg.max_epochs': (24, 12),
        'param_scheduler.1.end': (24, 12),
        'param_scheduler.1.milestones.0': (16, 8),
        'param_scheduler.1.milestones.1': (22, 11),
    }


def _point_at_toy_data(dataset_cfg, toy_root):
    dataset_cfg.data_root = f'{toy_root}/'
    dataset_cfg.metainfo = dict(classes=TOY_COCO_CLASSES)


def _strip_pretrained(model_cfg):
    model_cfg.backbone.init_cfg = None


@pytest.mark.parametrize('config', BASELINES, ids=lambda p: p.name)
def test_model_pipeline_and_optimizers_build(config, toy_root):
    """Builds the model once per pair, the train dataset on the built-in data
    with one sample through the train pipeline, and both optimizers."""
    from mmdet.registry import DATASETS, MODELS
    cfg = load(config)
    init_default_scope('mmdet')

    _strip_pretrained(cfg.model)
    model = MODELS.build(cfg.model)
    num_params = sum(p.numel() for p in model.parameters())
    assert num_params > 0
    is_mask_model = 'mask' in config.name
    assert hasattr(model.roi_head, 'mask_head') == is_mask_model

    dataset_cfg = cfg.train_dataloader.dataset
    _point_at_toy_data(dataset_cfg, toy_root)
    dataset = DATASETS.build(dataset_cfg)
    assert len(dataset) > 0
    sample = dataset[0]
    inputs, data_sample = sample['inputs'], sample['data_samples']
    assert inputs.dtype == torch.uint8 and inputs.shape[0] == 3
    assert len(data_sample.gt_instances) > 0
    assert hasattr(data_sample.gt_instances, 'masks') == is_mask_model

    # Baseline and twin optimizers on the same model, same hyper-parameters.
    optimizers = []
    for path in (config, TWIN_OF[config]):
        optimizer_cfg = load(path).optim_wrapper.optimizer
        optimizers.append(
            build_optim_wrapper(
                model, dict(type='OptimWrapper',
                            optimizer=optimizer_cfg)).optimizer)
    assert [type(o).__name__ for o in optimizers] == ['SGD', 'SGD_GC']
    for key in ('lr', 'momentum', 'weight_decay'):
        assert (optimizers[0].param_groups[0][key] ==
                optimizers[1].param_groups[0][key])


@pytest.mark.parametrize('config', [
    REPO_ROOT / 'configs/faster_rcnn/faster-rcnn_r50_fpn_amp-1x_coco.py',
    REPO_ROOT / 'configs/faster_rcnn/faster-rcnn_r50_fpn_gc_amp-1x_coco.py'
], ids=lambda p: p.name)
def test_amp_pair_uses_the_amp_optim_wrapper(config):
    assert load(config).optim_wrapper.type == 'AmpOptimWrapper'


def test_missing_toy_data_says_how_to_generate_it(tmp_path):
    from mmgc.datasets import check_dataset_files
    cfg = load(REPO_ROOT / 'configs/toy/faster-rcnn_toy-r18_fpn_1x_toycoco.py')
    for key in ('train_dataloader', 'val_dataloader'):
        cfg[key].dataset.data_root = f'{tmp_path}/toy_coco/'
    cfg.val_evaluator.ann_file = (
        f'{tmp_path}/toy_coco/annotations/instances_val2017.json')
    with pytest.raises(FileNotFoundError) as error:
        check_dataset_files(cfg)
    message = str(error.value)
    assert 'python tools/generate_toy_data.py' in message
    assert f'{tmp_path}/toy_coco/annotations/instances_train2017.json' in (
        message)


def test_missing_coco_says_where_coco_must_be(tmp_path, monkeypatch):
    from mmgc.datasets import check_dataset_files
    monkeypatch.chdir(tmp_path)  # no data/coco here
    cfg = load(REPO_ROOT /
               'configs/faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py')
    with pytest.raises(FileNotFoundError) as error:
        check_dataset_files(cfg, splits=('train', 'val'))
    message = str(error.value)
    assert 'data/coco/annotations/instances_train2017.json' in message
    assert 'data/coco/train2017/' in message and 'val2017' in message
    assert 'configs/toy' in message


def test_toy_config_finds_generated_data(toy_root, tmp_path, monkeypatch):
    cfg = load(REPO_ROOT / 'configs/toy/mask-rcnn_toy-r18_fpn_1x_toycoco.py')
    monkeypatch.chdir(tmp_path)  # the config's relative data/toy_coco/
    assert missing_dataset_files(cfg, ('train', 'val', 'test')) == [
        'data/toy_coco/annotations/instances_train2017.json',
        'data/toy_coco/train2017/',
        'data/toy_coco/annotations/instances_val2017.json',
        'data/toy_coco/val2017/',
    ]
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = f'{toy_root}/'
    for key in ('val_evaluator', 'test_evaluator'):
        cfg[key].ann_file = (
            f'{toy_root}/annotations/instances_val2017.json')
    assert missing_dataset_files(cfg, ('train', 'val', 'test')) == []
