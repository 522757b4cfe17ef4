"""The real-digit classification pair through the tools, shortened: the
generated MNIST folders read by mmpretrain's ImageNet class, and
tools/compare.py training configs/classification/mnist/ (SGD and SGD_GC,
seed 0) for one epoch on 64 digits, its table written with --out.

The accuracies of so short a run say nothing; the measured comparison is
in docs/en/_generated/compare_mnist.md.
"""
import json
import re
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

from _det_utils import PYTHON, REPO_ROOT, run_tool

pytestmark = [pytest.mark.classification, pytest.mark.digits]

MNIST = (REPO_ROOT /
         'configs/classification/mnist/resnet18-w16_1xb64_mnist5k.py')
MNIST_GC = (REPO_ROOT /
            'configs/classification/mnist/resnet18-w16_gc_1xb64_mnist5k.py')


@pytest.fixture(scope='module')
def digits_root(tmp_path_factory):
    from mmgc.datasets.digits import generate_digits_cls
    root = tmp_path_factory.mktemp('digits_cls')
    generate_digits_cls(root)
    return root


def short_run_options(root: Path):
    """One epoch of 64 digits (two iterations), validated on 100."""
    return [
        *(f'{key}.dataset.data_root={root}'
          for key in ('train_dataloader', 'val_dataloader',
                      'test_dataloader')),
        'train_dataloader.dataset.indices=64',
        'val_dataloader.dataset.indices=100', 'train_cfg.max_epochs=1',
        'train_dataloader.batch_size=32', 'default_hooks.logger.interval=1'
    ]


def test_the_pair_differs_only_in_the_optimizer():
    baseline, gc = (Config.fromfile(str(p)) for p in (MNIST, MNIST_GC))
    assert baseline.optim_wrapper.optimizer.type == 'SGD'
    gc.optim_wrapper.optimizer.type = 'SGD'
    assert gc.to_dict() == baseline.to_dict()
    assert baseline.model.head.num_classes == 10


def test_mmpretrain_reads_the_generated_digits(digits_root):
    from mmpretrain.datasets import ImageNet
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(str(MNIST))
    sizes = {}
    for split, key in (('train', 'train_dataloader'),
                       ('val', 'val_dataloader')):
        settings = cfg[key].dataset.to_dict()
        settings.pop('type')
        settings['data_root'] = str(digits_root)
        dataset = ImageNet(**settings)
        sizes[split] = len(dataset)
        for info in dataset.load_data_list()[::250]:
            assert str(info['gt_label']) == Path(info['img_path']).parent.name
    assert sizes == dict(train=4000, val=1000)
    sample = dataset[0]
    assert tuple(sample['inputs'].shape) == (3, 28, 28)


def test_compare_trains_the_pair_and_writes_the_result_files(
        digits_root, tmp_path):
    stem = tmp_path / 'compare_mnist'
    result = run_tool([
        PYTHON, 'tools/compare.py', MNIST, MNIST_GC, '--seeds', '0',
        '--jobs', '2', '--work-dir', tmp_path / 'work', '--out', stem,
        '--cfg-options', *short_run_options(digits_root)
    ])
    assert 'Classification: top-1/top-5 accuracy and error (%)' in (
        result.stdout)
    assert re.search(r'w/ GC\s+\d+\.\d\d\s+\d+\.\d\d', result.stdout)
    assert 'twin: the GC side differs from the baseline only' in (
        result.stdout)
    saved = json.loads(stem.with_suffix('.json').read_text())['results']
    assert saved['seeds'] == [0]
    assert saved['final_epochs'] == dict(baseline=[1], candidate=[1])
    assert 'no interval can be given with one seed' in (
        stem.with_suffix('.md').read_text())


def test_missing_digits_name_their_generator(tmp_path, monkeypatch):
    from mmgc.datasets.checks import check_dataset_files
    cfg = Config.fromfile(str(MNIST))
    monkeypatch.chdir(tmp_path)  # no data/digits_cls/ here
    with pytest.raises(FileNotFoundError,
                       match=r"mmgc\[digits\].*\n  python "
                       r'tools/generate_digits_cls.py'):
        check_dataset_files(cfg, splits=('train', ))
