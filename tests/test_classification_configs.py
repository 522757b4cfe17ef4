"""Classification configs: every classification row of the paper has a
baseline and a GC twin, twins differ only in the optimizer, every model and
optimizer builds, and missing data or weights fail early with instructions.

Pretrained ``init_cfg`` is removed before building (nothing is downloaded or
read); one test loads a torchvision-format ResNet-50 file into the
fine-grained model to check that the named weights fit it key for key.
"""
import copy
import functools
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import OPTIMIZERS, init_default_scope

from _config_diff import flatten
import mmgc  # noqa: F401
from mmgc.comparison.configs import flat_config, twin_differences
from mmgc.datasets import check_dataset_files
from mmgc.optim import gc_placement_of

pytestmark = [pytest.mark.classification]

REPO_ROOT = Path(__file__).resolve().parents[1]
CLS_ROOT = REPO_ROOT / 'configs' / 'classification'
CONFIGS = sorted(
    p for d in ('resnet', 'resnext', 'vgg', 'densenet', 'toy')
    for p in (CLS_ROOT / d).glob('*.py'))
GC_CONFIGS = [p for p in CONFIGS if '_gc_' in p.name]
BASELINES = [p for p in CONFIGS if '_gc_' not in p.name]

# Every classification row of the seeds' tables: config -> (baseline
# optimizer, GC optimizer).
PAPER_ROWS = {
    # ImageNet top-1 error (GC on conv layers, section 5.4)
    'resnet/resnet50_4xb64_in1k.py': ('SGD', 'SGD_GCC'),
    'resnet/resnet50-gn_4xb64_in1k.py': ('SGD', 'SGD_GCC'),
    'resnet/resnet101_8xb32_in1k.py': ('SGD', 'SGD_GCC'),
    'resnet/resnet101-gn_8xb32_in1k.py': ('SGD', 'SGD_GCC'),
    # fine-grained, pretrained ResNet-50
    'resnet/resnet50_4xb64_fgvc-aircraft.py': ('SGD', 'SGD_GC'),
    'resnet/resnet50_4xb64_stanford-cars.py': ('SGD', 'SGD_GC'),
    'resnet/resnet50_4xb64_stanford-dogs.py': ('SGD', 'SGD_GC'),
    'resnet/resnet50_4xb64_cub.py': ('SGD', 'SGD_GC'),
    # Mini-ImageNet: BN / BN+GC, BN+WS / BN+WS+GC
    'resnet/resnet50_4xb32_mini-imagenet.py': ('SGD', 'SGD_GC'),
    'resnet/resnet50-ws_4xb32_mini-imagenet.py': ('SGD', 'SGD_GC'),
    # CIFAR-100, Tables 1 and 2 (GC on conv layers, section 5.3)
    'resnet/resnet18_1xb128_cifar100.py': ('SGD', 'SGD_GCC'),
    'resnet/resnet50_1xb128_cifar100.py': ('SGD', 'SGD_GCC'),
    'resnet/resnet101_1xb128_cifar100.py': ('SGD', 'SGD_GCC'),
    'resnext/resnext29-4x64d_1xb128_cifar100.py': ('SGD', 'SGD_GCC'),
    'resnet/resnet50_1xb128-adam_cifar100.py': ('Adam', 'Adam_GCC'),
    'resnet/resnet50_1xb128-adagrad_cifar100.py': ('Adagrad', 'Adagrad_GCC'),
    'resnet/resnet50_1xb128-sgdw_cifar100.py': ('GCSGD', 'GCSGD'),
    'resnet/resnet50_1xb128-adamw_cifar100.py': ('GCAdamW', 'GCAdamW'),
    'vgg/vgg11bn_1xb128_cifar100.py': ('SGD', 'SGD_GCC'),
    'densenet/densenet121_1xb128_cifar100.py': ('SGD', 'SGD_GCC'),
    # the built-in toy pair
    'toy/resnet18-w16_1xb64_toycls.py': ('SGD', 'SGD_GC'),
}
# Pairs whose baseline is a GC optimizer with GC off (torch has no such
# update, e.g. SGDW): the twin keeps the type and switches GC on with its
# options; key -> (baseline value, twin value), None where not set.
GC_OPTION_CHANGES = {
    'resnet/resnet50_1xb128-sgdw_cifar100.py': {
        'optim_wrapper.optimizer.use_gc': (False, True),
        'optim_wrapper.optimizer.gc_conv_only': (None, True)},
    'resnet/resnet50_1xb128-adamw_cifar100.py': {
        'optim_wrapper.optimizer.use_gc': (False, True),
        'optim_wrapper.optimizer.gc_conv_only': (None, True),
        'optim_wrapper.optimizer.gc_loc': (None, 'gradient')},
}
# Backbones mmgc.classification registers (their configs import it).
MMGC_BACKBONES = ('DenseNetCIFAR', 'ResNeXtCIFAR')
NUM_CLASSES = {
    'in1k': 1000, 'fgvc-aircraft': 100, 'stanford-cars': 196,
    'stanford-dogs': 120, 'cub': 200, 'mini-imagenet': 100, 'cifar100': 100,
    'toycls': 10
}


def baseline_of(gc_config: Path) -> Path:
    return gc_config.with_name(gc_config.name.replace('_gc_', '_', 1))


def twin_of(baseline: Path) -> Path:
    for gc_config in GC_CONFIGS:
        if baseline_of(gc_config) == baseline:
            return gc_config
    raise AssertionError(f'{baseline.name} has no GC twin')


@functools.lru_cache(maxsize=None)
def _parsed(path: Path) -> Config:
    return Config.fromfile(str(path))


def load(path: Path) -> Config:
    """The resolved config (parsed once per session; callers get a copy)."""
    return copy.deepcopy(_parsed(path))


def dataset_of(config: Path) -> str:
    return config.stem.rsplit('_', 1)[-1]


def strip_pretrained(model_cfg):
    model_cfg.backbone.pop('init_cfg', None)


def test_every_paper_row_has_a_baseline_and_a_gc_twin():
    for relative in PAPER_ROWS:
        config = CLS_ROOT / relative
        assert config.is_file(), relative
        assert twin_of(config).is_file()
    assert sorted(baseline_of(g) for g in GC_CONFIGS) == sorted(BASELINES)
    assert sorted(str(p.relative_to(CLS_ROOT)) for p in BASELINES) == sorted(
        PAPER_ROWS)


@pytest.mark.parametrize('config', CONFIGS, ids=lambda p: p.name)
def test_config_resolves_mmpretrain_bases_and_names_its_paper_row(config):
    cfg = load(config)
    assert cfg.default_scope == 'mmpretrain'  # from mmpretrain's runtime
    # mmgc.classification registers mmgc's backbones; others need mmgc.
    imports = ['mmgc'] + (['mmgc.classification']
                          if cfg.model.backbone.type in MMGC_BACKBONES else [])
    assert cfg.custom_imports == dict(
        imports=imports, allow_failed_imports=False)
    baseline = baseline_of(config)
    expected = PAPER_ROWS[str(baseline.relative_to(CLS_ROOT))]
    assert cfg.optim_wrapper.optimizer.type == expected[config != baseline]
    assert OPTIMIZERS.get(cfg.optim_wrapper.optimizer.type) is not None
    header = config.read_text().split('_base_')[0]
    if config == baseline:
        assert 'Paper row' in header or 'toy' in header, header
    else:
        assert f'GC twin of {baseline.name}' in header
    assert cfg.model.head.num_classes == NUM_CLASSES[dataset_of(config)]
    for key in ('train_dataloader', 'val_dataloader'):
        dataset = cfg[key].dataset
        # CIFAR must never download itself: missing data is an error.
        if dataset.type.startswith('CIFAR'):
            assert dataset.download is False


@pytest.mark.parametrize('gc_config', GC_CONFIGS, ids=lambda p: p.name)
def test_gc_twin_differs_from_baseline_only_in_the_optimizer(gc_config):
    baseline = load(baseline_of(gc_config))
    twin = load(gc_config)
    a, b = flatten(baseline.to_dict()), flatten(twin.to_dict())
    changed = {
        key: (a.get(key), b.get(key))
        for key in a.keys() | b.keys() if a.get(key) != b.get(key)
    }
    row = str(baseline_of(gc_config).relative_to(CLS_ROOT))
    types = PAPER_ROWS[row]
    expected = dict(GC_OPTION_CHANGES.get(row, {}))
    if types[0] != types[1]:
        expected['optim_wrapper.optimizer.type'] = types
    assert changed == expected
    # tools/compare.py's strict twin check (--strict-twin) passes.
    assert twin_differences(flat_config(baseline), flat_config(twin)) == []


@pytest.mark.parametrize('config', BASELINES, ids=lambda p: p.name)
def test_model_and_both_optimizers_build(config):
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    cfg = load(config)
    strip_pretrained(cfg.model)
    model = MODELS.build(cfg.model).eval()
    # 32x32 inputs: enough to run every layer of the ImageNet networks too.
    with torch.no_grad():
        logits = model(torch.randn(1, 3, 32, 32), mode='tensor')
    assert logits.shape == (1, NUM_CLASSES[dataset_of(config)])

    optimizers = []
    for path in (config, twin_of(config)):
        wrapper = build_optim_wrapper(model, load(path).optim_wrapper)
        optimizers.append(wrapper.optimizer)
    expected = PAPER_ROWS[str(config.relative_to(CLS_ROOT))]
    assert tuple(type(o).__name__ for o in optimizers) == expected
    groups = [o.param_groups for o in optimizers]
    assert len(groups[0]) == len(groups[1])
    for group_a, group_b in zip(*groups):
        for key in ('lr', 'weight_decay'):
            assert group_a[key] == group_b[key]
    # GC is off in every group of the baseline and on in the twin's, as
    # each optimizer itself says (the placement protocol).
    assert all(gc_placement_of(optimizers[0], g) is None for g in groups[0])
    assert any(gc_placement_of(optimizers[1], g) is not None
               for g in groups[1])
    if 'fgvc' in config.name or '4xb64_cub' in config.name or (
            'stanford' in config.name):
        # The new fc learns at 10x the pretrained layers' rate (paper 5.5).
        lrs = {group['lr'] for group in groups[1]}
        assert lrs == {0.01, 0.1}


@pytest.mark.parametrize('config, module_type', [
    ('resnet/resnet50-gn_4xb64_in1k.py', torch.nn.GroupNorm),
    ('resnet/resnet101-gn_8xb32_in1k.py', torch.nn.GroupNorm),
], ids=['r50gn', 'r101gn'])
def test_gn_rows_have_no_batchnorm(config, module_type):
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    model = MODELS.build(load(CLS_ROOT / config).model)
    modules = list(model.backbone.modules())
    assert any(isinstance(m, module_type) for m in modules)
    assert not any(
        isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in modules)


def test_ws_row_standardizes_every_backbone_conv():
    from mmcv.cnn.bricks import ConvWS2d
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    model = MODELS.build(
        load(CLS_ROOT / 'resnet/resnet50-ws_4xb32_mini-imagenet.py').model)
    convs = [m for m in model.backbone.modules()
             if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 53 and all(isinstance(m, ConvWS2d) for m in convs)


@pytest.mark.parametrize('config, feature_shape', [
    ('vgg/vgg11bn_1xb128_cifar100.py', (1, 512, 1, 1)),
    ('resnet/resnet18_1xb128_cifar100.py', (1, 512, 4, 4)),
], ids=['vgg11bn', 'resnet18'])
def test_cifar_networks_are_cifar_sized(config, feature_shape):
    """32x32 inputs keep their resolution through the stem."""
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    model = MODELS.build(load(CLS_ROOT / config).model).eval()
    with torch.no_grad():
        features = model.backbone(torch.randn(1, 3, 32, 32))
    assert features[-1].shape == feature_shape


def test_densenet_cifar_keeps_the_resolution_through_its_stem():
    """DenseNetCIFAR: mmpretrain's DenseNet with a 3x3 stride-1 stem, so the
    three transitions take 32x32 down to 4x4 (ImageNet stem: 1x1)."""
    from mmpretrain.models.backbones import DenseNet
    from mmgc.classification import DenseNetCIFAR
    arch = dict(growth_rate=8, depths=[1, 1, 1, 1], init_channels=16)
    cifar, imagenet = DenseNetCIFAR(arch=arch), DenseNet(arch=arch)
    assert isinstance(cifar, DenseNet)
    assert isinstance(cifar.stem, torch.nn.Conv2d)
    assert (cifar.stem.kernel_size, cifar.stem.stride) == ((3, 3), (1, 1))
    cifar.eval()  # (DenseNet.train() returns None, so no chaining)
    imagenet.eval()
    with torch.no_grad():
        image = torch.randn(1, 3, 32, 32)
        assert cifar(image)[-1].shape[-2:] == (4, 4)
        assert imagenet(image)[-1].shape[-2:] == (1, 1)
    # Everything after the stem is mmpretrain's, parameter for parameter.
    shapes = {k: v.shape for k, v in cifar.state_dict().items()
              if not k.startswith('stem')}
    assert shapes == {k: v.shape for k, v in imagenet.state_dict().items()
                      if not k.startswith('stem')}


def resnext29_parameter_count(cardinality, bottleneck_width, num_classes,
                              stem=64, blocks=3, expansion=2):
    """Parameters of the CIFAR ResNeXt29 counted from its definition: 1x1
    stem conv + BN; per stage, blocks of 1x1 / grouped 3x3 / 1x1 convs, each
    with BN (weight and bias), a 1x1 conv + BN shortcut on each stage's first
    block; an fc with bias."""
    count = 3 * stem + 2 * stem
    channels = stem
    for stage in range(3):
        width = cardinality * bottleneck_width * 2**stage
        out = expansion * width
        for block in range(blocks):
            count += channels * width + 2 * width
            count += width * (width // cardinality) * 9 + 2 * width
            count += width * out + 2 * out
            if block == 0:
                count += channels * out + 2 * out
            channels = out
    return count + channels * num_classes + num_classes


def test_resnext29_4x64d_is_the_cifar_resnext():
    """The ResNeXt29 4x64d config's model: 1x1 stem, three stages of three
    grouped-conv blocks (32x32 -> 8x8, 2048 channels), 100 logits."""
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    cfg = load(CLS_ROOT / 'resnext/resnext29-4x64d_1xb128_cifar100.py')
    model = MODELS.build(cfg.model).eval()
    backbone = model.backbone
    assert type(backbone).__name__ == 'ResNeXtCIFAR'
    convs = [m for m in backbone.modules() if isinstance(m, torch.nn.Conv2d)]
    # 1 stem + 9 blocks x 3 convs + 3 shortcuts; the fc is the head's.
    assert len(convs) == 31
    assert convs[0].kernel_size == (1, 1) and convs[0].out_channels == 64
    grouped = [m for m in convs if m.groups > 1]
    assert len(grouped) == 9
    assert all(m.groups == 4 and m.kernel_size == (3, 3) for m in grouped)
    assert [m.out_channels for m in grouped[::3]] == [256, 512, 1024]
    assert [m.stride for m in grouped[::3]] == [(1, 1), (2, 2), (2, 2)]
    with torch.no_grad():
        images = torch.randn(2, 3, 32, 32)
        assert backbone(images)[-1].shape == (2, 2048, 8, 8)
        assert model(images, mode='tensor').shape == (2, 100)
    count = sum(p.numel() for p in model.parameters())
    assert count == resnext29_parameter_count(4, 64, 100)
    assert 27.0e6 < count < 27.4e6  # about 27.3M


def test_resnext_cifar_checks_its_stages():
    from mmgc.classification import ResNeXtCIFAR
    small = ResNeXtCIFAR(cardinality=2, bottleneck_width=4,
                         stage_blocks=(1, 1, 1), out_indices=(0, 1, -1))
    assert [f.shape[1:] for f in small(torch.randn(1, 3, 32, 32))] == [
        (16, 32, 32), (32, 16, 16), (64, 8, 8)]
    with pytest.raises(ValueError, match='one entry per stage'):
        ResNeXtCIFAR(stage_blocks=(3, 3), strides=(1, 2, 2))
    with pytest.raises(ValueError, match='3 stages'):
        ResNeXtCIFAR(out_indices=(3, ))


def _two_steps(model: torch.nn.Module, source):
    """The weights of a copy of ``model`` after two steps, on fixed gradients
    (the same for every call), of the optimizer of ``source``: a config file
    (built as the Runner builds it) or an optimizer config."""
    model = copy.deepcopy(model)
    if isinstance(source, Path):
        optimizer = build_optim_wrapper(
            model, load(source).optim_wrapper).optimizer
    else:
        optimizer = OPTIMIZERS.build(dict(source, params=model.parameters()))
    generator = torch.Generator().manual_seed(0)
    for _ in range(2):
        for p in model.parameters():
            p.grad = torch.randn(p.shape, generator=generator)
        optimizer.step()
    return [p.detach() for p in model.parameters()]


def _tiny_net():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
        torch.nn.Linear(4, 5))


def test_sgdw_pair_is_the_papers_sgdw_and_sgdw_gcc():
    """The SGDW pair is the authors' SGDW (decoupled decay, no GC) and
    SGDW_GCC (GC on the conv weight only), bit for bit."""
    baseline = CLS_ROOT / 'resnet/resnet50_1xb128-sgdw_cifar100.py'
    twin = CLS_ROOT / 'resnet/resnet50_gc_1xb128-sgdw_cifar100.py'
    hyper = dict(lr=0.1, momentum=0.9, weight_decay=1e-3)
    optimizer = load(baseline).optim_wrapper.optimizer
    assert {k: optimizer[k] for k in hyper} == hyper
    net = _tiny_net()
    assert all(torch.equal(a, b) for a, b in zip(
        _two_steps(net, twin),
        _two_steps(net, dict(type='SGDW_GCC', **hyper))))

    def authors_sgdw(centralize):
        # The authors' SGDW(_GCC) step in their order of operations.
        weights = [p.detach().clone() for p in net.parameters()]
        buffers = [None] * len(weights)
        generator = torch.Generator().manual_seed(0)
        for _ in range(2):
            for i, w in enumerate(weights):
                d = torch.randn(w.shape, generator=generator)
                if centralize and d.dim() > 3:
                    d = d - d.mean(dim=(1, 2, 3), keepdim=True)
                old = w.clone()
                buffers[i] = d.clone() if buffers[i] is None else (
                    buffers[i].mul_(hyper['momentum']).add_(d))
                w.add_(buffers[i], alpha=-hyper['lr'])
                w.add_(old, alpha=-hyper['weight_decay'] * hyper['lr'])
        return weights

    for config, centralize in ((baseline, False), (twin, True)):
        for ours, theirs in zip(_two_steps(net, config),
                                authors_sgdw(centralize)):
            assert torch.equal(ours, theirs)


def test_adamw_pair_adds_gc_where_adamw_gcc_puts_it():
    """The AdamW baseline is torch's AdamW bit for bit; the twin centralizes
    the conv gradient before the moments, as the paper's AdamW_GCC (whose
    decay, scaled by the step size, neither side has: see the config)."""
    baseline = CLS_ROOT / 'resnet/resnet50_1xb128-adamw_cifar100.py'
    twin = CLS_ROOT / 'resnet/resnet50_gc_1xb128-adamw_cifar100.py'
    hyper = dict(lr=0.001, weight_decay=1e-3)
    optimizer = load(baseline).optim_wrapper.optimizer
    assert {k: optimizer[k] for k in hyper} == hyper
    net = _tiny_net()
    assert all(torch.equal(a, b) for a, b in zip(
        _two_steps(net, baseline),
        _two_steps(net, dict(type='AdamW', **hyper))))
    placements = []
    for config in (twin, None):
        model = _tiny_net()
        if config is None:
            built = OPTIMIZERS.build(
                dict(type='AdamW_GCC', params=model.parameters(), **hyper))
        else:
            built = build_optim_wrapper(
                model, load(config).optim_wrapper).optimizer
        placements.append(
            [gc_placement_of(built, g) for g in built.param_groups])
    assert placements[0] == placements[1]
    assert placements[0][0].conv_only and placements[0][0].location == (
        'gradient')
    # Only the conv weight's steps differ; the rest is the same AdamW.
    changed = [not torch.equal(a, b) for a, b in zip(
        _two_steps(net, baseline), _two_steps(net, twin))]
    assert changed == [True, False, False, False]


def test_fine_grained_weights_fit_the_backbone_key_for_key(tmp_path):
    """The torchvision ResNet-50 file the fine-grained configs name loads
    into mmpretrain's backbone with every backbone tensor matched."""
    import torchvision
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    reference = torchvision.models.resnet50(weights=None)
    checkpoint = tmp_path / 'resnet50-19c8e357.pth'
    torch.save(reference.state_dict(), checkpoint)
    cfg = load(CLS_ROOT / 'resnet/resnet50_4xb64_cub.py')
    assert cfg.model.backbone.init_cfg == dict(
        type='Pretrained', checkpoint='data/pretrained/resnet50-19c8e357.pth')
    cfg.model.backbone.init_cfg.checkpoint = str(checkpoint)
    model = MODELS.build(cfg.model)
    model.init_weights()
    loaded = model.backbone.state_dict()
    expected = {k: v for k, v in reference.state_dict().items()
                if not k.startswith('fc.')}
    assert set(loaded) == set(expected)
    for key, value in expected.items():
        assert torch.equal(loaded[key], value), key


@pytest.mark.parametrize('config, expected', [
    ('resnet/resnet50_4xb64_in1k.py', [
        'data/imagenet/meta/train.txt', 'data/imagenet/train/',
        'data/imagenet/meta/val.txt', 'https://image-net.org']),
    ('resnet/resnet18_1xb128_cifar100.py', [
        'data/cifar100/cifar-100-python/train',
        'data/cifar100/cifar-100-python/test',
        'https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz']),
    ('resnet/resnet50_4xb64_cub.py', [
        'data/CUB_200_2011/images.txt', 'data/CUB_200_2011/images/',
        'cub_200_2011', 'data/pretrained/resnet50-19c8e357.pth',
        'https://download.pytorch.org/models/resnet50-19c8e357.pth']),
    ('resnet/resnet50_4xb64_stanford-cars.py', [
        'data/stanford_cars/cars_annos.mat or '
        'data/stanford_cars/devkit/cars_train_annos.mat',
        'ai.stanford.edu/~jkrause/cars']),
    ('resnet/resnet50_4xb64_fgvc-aircraft.py', [
        'data/fgvc-aircraft-2013b/data/images_variant_trainval.txt',
        'data/fgvc-aircraft-2013b/data/images_variant_test.txt',
        'robots.ox.ac.uk/~vgg/data/fgvc-aircraft']),
    ('resnet/resnet50_4xb64_stanford-dogs.py', [
        'data/stanford_dogs/train/', 'data/stanford_dogs/test/',
        'vision.stanford.edu/aditya86/ImageNetDogs',
        'data/stanford_dogs/train/<breed>/*.jpg']),
    ('resnet/resnet50_4xb32_mini-imagenet.py', [
        'data/mini_imagenet/train/', 'data/mini_imagenet/val/',
        'Yonghongwei/Gradient-Centralization']),
    ('toy/resnet18-w16_1xb64_toycls.py', [
        'data/toy_cls/meta/train.txt', 'data/toy_cls/train/',
        'python tools/generate_toy_cls.py']),
], ids=lambda v: v if isinstance(v, str) else None)
def test_missing_data_names_the_files_and_where_to_get_them(
        config, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the configs' relative data/ is absent
    cfg = load(CLS_ROOT / config)
    with pytest.raises(FileNotFoundError) as error:
        check_dataset_files(cfg, splits=('train', 'val'))
    message = str(error.value)
    for text in expected:
        assert text in message, message
    # Test-only checks leave the training weights alone.
    with pytest.raises(FileNotFoundError) as error:
        check_dataset_files(cfg, splits=('test', ))
    assert 'resnet50-19c8e357.pth' not in str(error.value)


def test_train_tool_stops_before_building_when_cifar_is_missing(tmp_path):
    """tools/train.py fails with the instructions, before the Runner exists
    (no work dir), and never downloads CIFAR."""
    work_dir = tmp_path / 'work'
    missing_root = tmp_path / 'no_cifar'
    result = subprocess.run(
        [sys.executable, 'tools/train.py',
         str(CLS_ROOT / 'resnet/resnet18_gc_1xb128_cifar100.py'),
         '--work-dir', str(work_dir), '--cfg-options',
         f'train_dataloader.dataset.data_root={missing_root}',
         f'val_dataloader.dataset.data_root={missing_root}'],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert result.returncode != 0
    assert 'FileNotFoundError' in result.stderr
    assert f'{missing_root}/cifar-100-python/train' in result.stderr
    assert 'cifar-100-python.tar.gz' in result.stderr
    assert not work_dir.exists()
    assert not missing_root.exists()
