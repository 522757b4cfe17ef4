"""The built-in toy classification dataset and the classification tools end
to end: mmpretrain's own dataset classes read the generated files,
tools/compare.py trains the toy pair (SGD and SGD_GC, seed 0) and prints
the paper-format table, tools/test.py evaluates a checkpoint. (The table
itself, on synthetic runs: tests/test_comparison.py.)

The runs are a few iterations on a few dozen images, so the accuracies are
low; the tests check that mmpretrain's Accuracy metric produced them and that
the tools report them correctly, not how good they are.
"""
import json
import re
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmgc.datasets import (TOY_CLS_CLASSES, ToyClsSettings,
                           draw_toy_cls_image, generate_toy_cls)
from _det_utils import PYTHON, REPO_ROOT, run_tool

pytestmark = [pytest.mark.classification]

TOY = REPO_ROOT / 'configs/classification/toy/resnet18-w16_1xb64_toycls.py'
TOY_GC = (
    REPO_ROOT / 'configs/classification/toy/resnet18-w16_gc_1xb64_toycls.py')
# What the toy_root fixture writes (conftest.py).
TOY_DATA = ToyClsSettings(num_train_per_class=8, num_val_per_class=4)


def data_options(root: Path):
    return [
        f'{key}.dataset.data_root={root}'
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    ]


TINY_SCHEDULE = [
    'train_cfg.max_epochs=2', 'train_dataloader.batch_size=16',
    'default_hooks.logger.interval=1'
]


def test_generator_is_deterministic_and_refuses_to_mix_settings(
        toy_root, tmp_path):
    again = tmp_path / 'again'
    generate_toy_cls(again, TOY_DATA)
    for name in ('meta/train.txt', 'meta/val.txt',
                 'train/star-outline/star-outline_00003.png',
                 'val/cross/cross_00001.png'):
        assert (again / name).read_bytes() == (toy_root / name).read_bytes()
    # Same settings again: nothing to do; other settings: refused.
    generate_toy_cls(again, TOY_DATA)
    with pytest.raises(FileExistsError, match='--overwrite'):
        generate_toy_cls(again, ToyClsSettings(num_train_per_class=9,
                                               num_val_per_class=4))
    # The classes differ in what is drawn, not in noise alone.
    images = [draw_toy_cls_image(TOY_DATA, 'train', label, 0)
              for label in range(len(TOY_CLS_CLASSES))]
    assert all(image.shape == (32, 32, 3) for image in images)
    assert len({image.tobytes() for image in images}) == len(images)


def test_mmpretrain_imagenet_class_reads_the_toy_dataset(toy_root):
    """The toy config's dataset is mmpretrain's ImageNet class itself, and
    CustomDataset's folder scan gives the same labels."""
    from mmpretrain.datasets import CustomDataset, ImageNet
    from mmpretrain.registry import DATASETS
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(str(TOY))
    datasets = {}
    for split, key in (('train', 'train_dataloader'),
                       ('val', 'val_dataloader')):
        dataset_cfg = cfg[key].dataset
        dataset_cfg.data_root = str(toy_root)
        dataset = DATASETS.build(dataset_cfg)
        assert type(dataset) is ImageNet
        assert dataset.CLASSES == TOY_CLS_CLASSES
        datasets[split] = dataset
    assert len(datasets['train']) == 10 * TOY_DATA.num_train_per_class
    assert len(datasets['val']) == 10 * TOY_DATA.num_val_per_class
    for info in datasets['train'].load_data_list():
        folder = Path(info['img_path']).parent.name
        assert TOY_CLS_CLASSES[info['gt_label']] == folder
    sample = datasets['train'][0]
    assert tuple(sample['inputs'].shape) == (3, 32, 32)
    assert sample['data_samples'].gt_label.item() in range(10)

    scanned = CustomDataset(data_root=str(toy_root), data_prefix='val')
    assert scanned.CLASSES == TOY_CLS_CLASSES
    assert sorted((Path(i['img_path']).name, i['gt_label'])
                  for i in scanned.load_data_list()) == sorted(
                      (Path(i['img_path']).name, i['gt_label'])
                      for i in datasets['val'].load_data_list())


@pytest.fixture(scope='module')
def compare_training(tmp_path_factory, toy_root):
    """tools/compare.py trains the toy pair with seed 0, both runs at once;
    each run is a tools/train.py process. (Mean and std over seeds are
    checked on logged runs above, without the CPU time of more trainings.)
    """
    work_dir = tmp_path_factory.mktemp('compare_cls')
    result = run_tool([
        PYTHON, 'tools/compare.py', TOY, TOY_GC, '--seeds', '0',
        '--work-dir', work_dir, '--jobs', '2', '--cfg-options',
        *data_options(toy_root), *TINY_SCHEDULE
    ])
    return work_dir, result.stdout


def test_compare_trains_the_toy_pair_and_prints_the_table(compare_training):
    work_dir, stdout = compare_training
    assert '2 training run(s) to do or reuse, seeds [0]' in stdout
    for label in ('w/o GC', 'w/ GC'):
        assert re.search(
            rf'{re.escape(label)} seed 0: epoch 2 evaluated: '
            r'top-1 [\d.]+, top-5 [\d.]+', stdout), stdout[-3000:]
    assert 'Classification: top-1/top-5 accuracy and error (%)' in stdout
    assert re.search(r'w/ GC\s+\d+\.\d\d\s+\d+\.\d\d\s+\d+\.\d\d', stdout)
    table = json.loads((work_dir / 'comparison.json').read_text())
    assert table['seeds'] == [0]
    assert table['final_epochs'] == dict(baseline=[2], candidate=[2])
    columns = {c['key']: c for c in table['groups'][0]['columns']}
    assert list(columns) == ['accuracy/top1', 'accuracy/top5', 'error/top1',
                             'error/top5']
    for side in ('baseline', 'candidate'):
        for acc, err in zip(columns['accuracy/top1'][side],
                            columns['error/top1'][side]):
            assert 0 <= acc <= 100 and acc + err == pytest.approx(100)
    # The two sides really trained with different optimizers.
    for name, optimizer in ((TOY.stem, 'SGD'), (TOY_GC.stem, 'SGD_GC')):
        dumped = next((work_dir / name / 'seed_0').glob('*.py'))
        cfg = Config.fromfile(str(dumped))
        assert cfg.optim_wrapper.optimizer.type == optimizer
        assert cfg.randomness.seed == 0
    for name in ('comparison.md', 'loss_curves.png', 'metrics_per_epoch.png'):
        assert (work_dir / name).stat().st_size > 0


def test_test_tool_evaluates_a_toy_checkpoint(compare_training, toy_root,
                                              tmp_path):
    work_dir, _ = compare_training
    checkpoint = work_dir / TOY_GC.stem / 'seed_0' / 'epoch_2.pth'
    assert checkpoint.is_file()
    result = run_tool([
        PYTHON, 'tools/test.py', TOY_GC, checkpoint, '--work-dir',
        tmp_path / 'test', '--out', tmp_path / 'predictions.pkl',
        '--cfg-options', *data_options(toy_root)
    ])
    metrics = dict(
        re.findall(r'^(accuracy/top\d): ([\d.]+)$', result.stdout, re.M))
    assert set(metrics) == {'accuracy/top1', 'accuracy/top5'}
    # The same checkpoint, the same metric the training run logged.
    logged = json.loads((work_dir / 'comparison.json').read_text())
    columns = {c['key']: c for c in logged['groups'][0]['columns']}
    assert float(metrics['accuracy/top1']) == pytest.approx(
        columns['accuracy/top1']['candidate'][0], abs=1e-3)
    import pickle
    with open(tmp_path / 'predictions.pkl', 'rb') as f:
        predictions = pickle.load(f)
    assert len(predictions) == 10 * TOY_DATA.num_val_per_class
    assert np.all([p['pred_label'].numel() == 1 for p in predictions])
