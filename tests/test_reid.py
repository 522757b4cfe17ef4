"""ReID configs: they build, twins differ only in the optimizer, and toy
training and evaluation run end to end through tools/train.py and
tools/test.py."""
import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.dataset import DefaultSampler
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

import mmgc  # noqa: F401
from mmgc.reid import (Market1501Dataset, PKBatchSampler,
                       generate_toy_market1501)

pytestmark = [pytest.mark.reid]

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO_ROOT / 'configs' / 'reid'
PAPER_PAIRS = [(f'bot_r{d}-last-stride1_adam_1xb64-120e_market1501.py',
                f'bot_r{d}-last-stride1_sgd-gcc_1xb64-120e_market1501.py')
               for d in (18, 50, 101)]
TOY = 'bot_r18-last-stride1_adam_1xb64-36e_toy-market1501.py'
TOY_GC = 'bot_r18-last-stride1_sgd-gcc_1xb64-36e_toy-market1501.py'
ALL_PAIRS = PAPER_PAIRS + [(TOY, TOY_GC)]
ALL_CONFIGS = [name for pair in ALL_PAIRS for name in pair]


def _load(name):
    return Config.fromfile(str(CONFIG_DIR / name))


def test_every_config_of_the_directory_is_covered():
    on_disk = sorted(p.name for p in CONFIG_DIR.glob('*.py'))
    assert on_disk == sorted(ALL_CONFIGS)


@pytest.mark.parametrize('baseline, gc', ALL_PAIRS)
def test_gc_twin_differs_from_baseline_only_in_the_optimizer(baseline, gc):
    base_cfg = _load(baseline).to_dict()
    gc_cfg = _load(gc).to_dict()
    assert base_cfg['optim_wrapper']['optimizer'] == dict(
        type='Adam', lr=3.5e-4, weight_decay=5e-4)
    assert gc_cfg['optim_wrapper']['optimizer'] == dict(
        type='SGD_GCC', lr=0.03, momentum=0.9, weight_decay=0.002)
    for cfg in (base_cfg, gc_cfg):
        del cfg['optim_wrapper']['optimizer']
    assert base_cfg == gc_cfg


@pytest.mark.parametrize('depth', [18, 50, 101])
def test_paper_configs_follow_the_strong_baseline_recipe(depth):
    cfg = _load(f'bot_r{depth}-last-stride1_adam_1xb64-120e_market1501.py')
    assert cfg.custom_imports == dict(
        imports=['mmgc', 'mmgc.reid'], allow_failed_imports=False)
    backbone = cfg.model.backbone
    assert (backbone.depth, backbone.strides) == (depth, (1, 2, 2, 1))
    assert backbone.init_cfg.checkpoint == f'torchvision://resnet{depth}'
    assert cfg.model.head.in_channels == (512 if depth == 18 else 2048)
    assert cfg.model.head.num_classes == 751
    assert cfg.model.head.loss_cls.label_smooth_val == 0.1
    assert cfg.model.head.loss_triplet.margin == 0.3
    assert cfg.model.head.loss_center.loss_weight == 5e-4
    loader = cfg.train_dataloader
    assert loader.batch_size == 64 and loader.batch_sampler.num_instances == 4
    assert loader.dataset.data_root == 'data/market1501/'
    steps = {t['type']: t for t in loader.dataset.pipeline}
    assert steps['Resize']['scale'] == (128, 256)
    assert steps['RandomFlip']['prob'] == 0.5
    assert steps['mmpretrain.RandomCrop']['padding'] == 10
    assert steps['mmpretrain.RandomErasing']['erase_prob'] == 0.5
    assert cfg.train_cfg.max_epochs == 120
    warmup, steps = cfg.param_scheduler
    assert (warmup.type, warmup.start_factor, warmup.end) == ('LinearLR',
                                                              0.01, 10)
    assert (steps.type, steps.milestones, steps.gamma) == ('MultiStepLR',
                                                           [40, 70], 0.1)
    assert cfg.val_evaluator.type == 'QueryGalleryReIDMetric'


@pytest.mark.parametrize('name', [TOY, TOY_GC])
def test_toy_configs_download_nothing_and_read_the_toy_data(name):
    cfg = _load(name)
    assert cfg.model.backbone.init_cfg is None
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[loader].dataset.data_root == 'data/toy_market1501/'
    assert cfg.model.head.num_classes == 120  # generator default


@pytest.mark.parametrize('name', ALL_CONFIGS)
def test_config_builds_model_and_optimizer(name):
    cfg = _load(name)
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.init_cfg = None  # no downloads in tests
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(model_cfg)
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert model.head.classifier.out_features == cfg.model.head.num_classes
    expected_decay = cfg.optim_wrapper.optimizer.weight_decay
    groups = optim_wrapper.optimizer.param_groups
    # One decay for weights and biases alike (the paper's bias decay).
    assert {g['weight_decay'] for g in groups} == {expected_decay}
    assert type(optim_wrapper.optimizer).__name__ == \
        cfg.optim_wrapper.optimizer.type


@pytest.fixture(scope='module')
def tiny_toy_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('toy_market1501')
    generate_toy_market1501(
        str(root),
        num_train_ids=16,
        num_test_ids=8,
        num_distractors=6,
        num_junk=2,
        seed=1)
    return root


def _data_options(root):
    return [
        f'train_dataloader.dataset.data_root={root}/',
        f'val_dataloader.dataset.data_root={root}/',
        f'test_dataloader.dataset.data_root={root}/',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False',
        'model.head.num_classes=16',
    ]


def _run(args, timeout=600):
    env = dict(os.environ, OMP_NUM_THREADS='2')
    result = subprocess.run([sys.executable] + [str(a) for a in args],
                            cwd=REPO_ROOT,
                            env=env,
                            capture_output=True,
                            text=True,
                            timeout=timeout)
    assert result.returncode == 0, (
        f'{args} exited with {result.returncode}:\n{result.stdout[-3000:]}\n'
        f'{result.stderr[-5000:]}')
    return result


def _logged_metrics(work_dir):
    records = []
    for path in Path(work_dir).glob('*/vis_data/scalars.json'):
        records += [json.loads(line) for line in path.read_text().split('\n')
                    if line.strip()]
    return records


@pytest.mark.parametrize('config', [TOY, TOY_GC])
def test_toy_training_and_evaluation_through_the_tools(
        config, tiny_toy_root, tmp_path):
    work_dir = tmp_path / 'work'
    _run([
        'tools/train.py', CONFIG_DIR / config, '--work-dir', work_dir,
        '--cfg-options', *_data_options(tiny_toy_root),
        'train_dataloader.batch_size=32',  # P8 x K4
        # One epoch (two PK batches), validated at its end.
        'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
        'default_hooks.checkpoint.interval=1',
        'default_hooks.logger.interval=1'
    ])
    records = _logged_metrics(work_dir)
    train_logs = [r for r in records if 'loss_triplet' in r]
    assert train_logs and all(r['loss'] > 0 for r in train_logs)
    assert {'loss_cls', 'loss_triplet', 'loss_center'} <= set(train_logs[0])
    val = [r for r in records if 'reid/mAP' in r]
    assert len(val) == 1
    for key in ('reid/mAP', 'reid/R1', 'reid/R5', 'reid/R10'):
        assert 0 <= val[0][key] <= 100
    assert val[0]['reid/R1'] <= val[0]['reid/R5'] <= val[0]['reid/R10']

    checkpoint = work_dir / 'epoch_1.pth'
    assert checkpoint.is_file()
    result = _run([
        'tools/test.py', CONFIG_DIR / config, checkpoint, '--work-dir',
        tmp_path / 'test', '--cfg-options', *_data_options(tiny_toy_root)
    ])
    output = result.stdout + result.stderr
    assert f"reid/mAP: {val[0]['reid/mAP']:.4f}" in output


def test_two_process_training_shares_out_the_pk_epoch(tiny_toy_root,
                                                      tmp_path, free_port):
    # tools/dist_train.sh with 2 CPU processes (gloo). The parameter dumps
    # come from the detection tests' DumpRankParamsHook.
    config = tmp_path / 'dist_toy_reid.py'
    config.write_text(
        f"_base_ = '{CONFIG_DIR / TOY_GC}'\n"
        "custom_imports = dict(imports=['mmgc', 'mmgc.reid', '_det_utils'], "
        'allow_failed_imports=False)\n'
        "custom_hooks = [dict(type='DumpRankParamsHook')]\n")
    work_dir = tmp_path / 'work'
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(free_port),
               OMP_NUM_THREADS='1', PYTHONPATH=str(REPO_ROOT / 'tests'))
    result = subprocess.run(
        ['bash', 'tools/dist_train.sh', str(config), '2', '--work-dir',
         str(work_dir), '--cfg-options', 'env_cfg.dist_cfg.backend=gloo',
         *_data_options(tiny_toy_root), 'train_dataloader.batch_size=16',
         'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
         'default_hooks.logger.interval=1'],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[
        -5000:]

    before = torch.load(work_dir / 'rank0_before.pth')
    after = [torch.load(work_dir / f'rank{r}_after.pth') for r in (0, 1)]
    for name in after[0]:
        assert torch.equal(after[0][name], after[1][name]), name
    assert not torch.equal(before['backbone.conv1.weight'],
                           after[0]['backbone.conv1.weight'])

    # Each process runs half of the single-process epoch's PK batches.
    train = Market1501Dataset(str(tiny_toy_root), split='train')
    single = len(
        PKBatchSampler(DefaultSampler(train, seed=0), 16, num_instances=4))
    log = next(work_dir.glob('*/*.log')).read_text()
    iters = re.findall(r'Epoch\(train\)\s+\[1\]\[\s*\d+/(\d+)\]', log)
    assert iters
    assert {int(n) for n in iters} == {single // 2}
    assert 'reid/mAP' in log
