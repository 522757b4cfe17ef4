"""ReID training data that cannot fill P x K batches stops tools/train.py
before anything is built, and the settings the error gives train.

mmdet's TripletLoss needs, in every batch, an image of another identity for
each image (P >= 2 identities) and another image of its own (K >= 2); a
batch of one identity fails inside it with "min(): Expected reduction dim".
"""
import collections
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.dataset import DefaultSampler

from mmgc.datasets import check_dataset_files
from mmgc.reid import (Market1501Dataset, PKBatchSampler,
                       generate_toy_market1501)

pytestmark = [pytest.mark.reid]

REPO_ROOT = Path(__file__).resolve().parents[1]
TOY = (REPO_ROOT / 'configs/reid' /
       'bot_r18-last-stride1_adam_1xb64-36e_toy-market1501.py')


def toy_data(root: Path, num_train_ids: int) -> Path:
    generate_toy_market1501(str(root), num_train_ids=num_train_ids,
                            num_test_ids=2, num_distractors=2, num_junk=1,
                            seed=2)
    return root


def train(root: Path, work_dir: Path, *options: str):
    """One epoch of the toy config on ``root``, without validation."""
    return subprocess.run(
        [sys.executable, 'tools/train.py', str(TOY), '--work-dir',
         str(work_dir), '--cfg-options',
         f'train_dataloader.dataset.data_root={root}/',
         'train_dataloader.num_workers=0',
         'train_dataloader.persistent_workers=False',
         'val_cfg=None', 'val_dataloader=None', 'val_evaluator=None',
         'train_cfg.max_epochs=1', 'default_hooks.logger.interval=1',
         *options],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, OMP_NUM_THREADS='1'))


def assert_trained(result, work_dir: Path):
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[
        -4000:]
    assert (work_dir / 'epoch_1.pth').is_file()
    log = next(work_dir.glob('*/*.log')).read_text()
    assert 'loss_triplet' in log


def test_one_identity_and_the_advice_that_trains(tmp_path):
    root = toy_data(tmp_path / 'toy_market1501', num_train_ids=1)
    work_dir = tmp_path / 'work'
    result = train(root, work_dir)
    assert result.returncode != 0
    message = result.stderr
    assert 'No batch size helps: the training data must hold at least 2 ' \
        'identities, and it has 1.' in message
    assert not work_dir.exists()  # stopped before the Runner
    command = re.search(r'Write the toy dataset again with 16 training '
                        r'identities:\n  (python tools/generate_toy_reid.py '
                        r'.*--overwrite)\n', message)
    assert command, message
    assert f'--out-dir {root}' in command.group(1)

    # Following the advice: write the data again, train with the config's
    # batch of 16 identities x 4 images.
    subprocess.run([sys.executable] + shlex.split(command.group(1))[1:],
                   cwd=REPO_ROOT, check=True, capture_output=True)
    assert_trained(train(root, work_dir), work_dir)


def test_batch_of_one_identity_and_the_advice_that_trains(tmp_path):
    # Few identities: the advised batch of 2 identities trains an epoch of
    # two batches.
    root = toy_data(tmp_path / 'toy_market1501', num_train_ids=4)
    work_dir = tmp_path / 'work'
    result = train(root, work_dir, 'train_dataloader.batch_size=4')
    assert result.returncode != 0
    message = result.stderr
    assert 'Expected reduction dim' not in message
    assert ('batch_size 4 / num_instances 4 gives P = 1 identity per batch, '
            'but the triplet loss needs at least 2 identities in every batch'
            ) in message
    assert not work_dir.exists()
    advised = re.search(r'for example (train_dataloader\.batch_size=\d+) '
                        r'\(P=2 identities x K=4 images\)', message)
    assert advised, message
    assert advised.group(1) == 'train_dataloader.batch_size=8'
    assert_trained(train(root, work_dir, advised.group(1)), work_dir)


def test_more_identities_than_classes(tmp_path):
    root = toy_data(tmp_path / 'toy_market1501', num_train_ids=20)
    result = train(root, tmp_path / 'work', 'model.head.num_classes=12')
    assert result.returncode != 0
    assert (f'{root}/bounding_box_train holds 20 identities, so their labels '
            'run from 0 to 19, but model.head.num_classes is 12: set '
            'model.head.num_classes=20') in result.stderr


def test_missing_folders_are_listed_before_building(tmp_path):
    root = tmp_path / 'toy_market1501'
    result = train(root, tmp_path / 'work')
    assert result.returncode != 0
    assert 'FileNotFoundError' in result.stderr
    assert f'{root}/bounding_box_train' in result.stderr
    assert f'python tools/generate_toy_reid.py --out-dir {root}' in (
        result.stderr)


@pytest.fixture(scope='module')
def three_ids(tmp_path_factory):
    root = tmp_path_factory.mktemp('reid') / 'toy_market1501'
    return Market1501Dataset(str(toy_data(root, num_train_ids=3)),
                             split='train')


@pytest.mark.parametrize('batch_size, num_instances, expected', [
    (16, 1, 'num_instances (K) is 1, but every identity needs at least 2 '
     'images in a batch'),
    (4, 4, 'batch_size 4 / num_instances 4 gives P = 1 identity per batch'),
    (6, 4, 'batch_size 6 must be a multiple of num_instances 4'),
    (64, 4, 'a batch needs 16 different identities (batch_size 64 = P 16 x '
     'K 4) but the training data has only 3'),
])
def test_sampler_refuses_batches_the_triplet_loss_cannot_use(
        three_ids, batch_size, num_instances, expected):
    sampler = DefaultSampler(three_ids, shuffle=True, seed=0)
    with pytest.raises(ValueError) as error:
        PKBatchSampler(sampler, batch_size, num_instances=num_instances)
    message = str(error.value)
    assert expected in message, message
    # The advice is a setting the sampler accepts.
    advised = re.search(r'for example train_dataloader\.batch_size=(\d+)'
                        r'( and train_dataloader\.batch_sampler\.'
                        r'num_instances=(\d+))?', message)
    assert advised, message
    k = int(advised.group(3) or num_instances)
    batches = list(PKBatchSampler(sampler, int(advised.group(1)), k))
    assert batches
    images_per_id = collections.Counter(
        three_ids.get_data_info(i)['gt_label'] for i in batches[0])
    assert len(images_per_id) >= 2 and set(images_per_id.values()) == {k}


def test_missing_folders_of_every_split_are_listed(tmp_path):
    cfg = Config.fromfile(str(TOY))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = f'{tmp_path}/'
    with pytest.raises(FileNotFoundError) as error:
        check_dataset_files(cfg, splits=('train', 'val'))
    for folder in ('bounding_box_train', 'query', 'bounding_box_test'):
        assert f'{tmp_path}/{folder}' in str(error.value)
