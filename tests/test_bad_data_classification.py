"""Classification labels the model has no class for stop the tools before
anything is built, naming the file or folder, the label and the config key
to change (cross entropy would otherwise stop mid-training with "Target 12
is out of bounds"); so do image files that cannot be read (cv2 would stop
mid-training without naming the file)."""
import shutil
from pathlib import Path

import pytest
from mmengine.config import Config

from _tools import load_tool

from mmgc.datasets import (ToyClsSettings, check_classification_labels,
                           check_dataset_files, generate_toy_cls)
from mmgc.datasets.cls_checks import listed_images

pytestmark = [pytest.mark.classification]

REPO_ROOT = Path(__file__).resolve().parents[1]
TOY_CONFIG = (REPO_ROOT /
              'configs/classification/toy/resnet18-w16_1xb64_toycls.py')
# What the toy_root fixture writes (conftest.py).
TOY_DATA = ToyClsSettings(num_train_per_class=2, num_val_per_class=1)


@pytest.fixture
def data(toy_root, tmp_path):
    """A copy of the tiny toy dataset to change."""
    root = tmp_path / 'toy_cls'
    shutil.copytree(toy_root, root)
    return root


@pytest.fixture(scope='module')
def train_tool():
    """tools/train.py, loaded in this process: a refused run costs no
    interpreter start nor imports."""
    return load_tool('train')


def refused(train_tool, data, tmp_path) -> str:
    """The message tools/train.py stops with, on the toy config reading
    ``data``, before building anything."""
    work_dir = tmp_path / 'work'
    with pytest.raises(ValueError) as raised:
        train_tool.main([
            str(TOY_CONFIG), '--work-dir', str(work_dir), '--cfg-options',
            f'train_dataloader.dataset.data_root={data}',
            f'val_dataloader.dataset.data_root={data}'])
    assert not work_dir.exists()  # stopped before the Runner
    return str(raised.value)


def relabel_line(ann_file: Path, number: int, label: int) -> str:
    lines = ann_file.read_text().splitlines()
    path, _ = lines[number - 1].rsplit(' ', 1)
    lines[number - 1] = f'{path} {label}'
    ann_file.write_text('\n'.join(lines) + '\n')
    return lines[number - 1]


def test_label_beyond_the_head_stops_training(data, train_tool, tmp_path):
    ann_file = data / 'meta' / 'train.txt'
    line = relabel_line(ann_file, 7, 12)
    message = refused(train_tool, data, tmp_path)
    assert 'out of bounds' not in message
    assert (f'Annotation file {ann_file} line 7 ({line!r}) has label 12, but '
            'model.head.num_classes is 10: labels must be 0 to 9.') in message
    assert ('the model needs more classes: set model.head.num_classes and '
            'data_preprocessor.num_classes to 13 (--cfg-options '
            'model.head.num_classes=13 data_preprocessor.num_classes=13)'
            ) in message
    assert (f'python tools/generate_toy_cls.py --out-dir {data} --num-train '
            '2 --num-val 1 --overwrite') in message


def test_label_that_is_not_a_number(data):
    ann_file = data / 'meta' / 'val.txt'
    lines = ann_file.read_text().splitlines()
    lines[2] = lines[2].rsplit(' ', 1)[0]  # the label is gone
    ann_file.write_text('\n'.join(lines) + '\n')
    cfg = Config.fromfile(str(TOY_CONFIG))
    cfg.val_dataloader.dataset.data_root = str(data)
    with pytest.raises(ValueError, match=f'Annotation file {ann_file} line 3 '
                       r"\('.*'\) is not \"<image path> <integer label>\""):
        check_dataset_files(cfg, splits=('val', ))


def folder_config(train_folder: Path, num_classes: int = 10) -> Config:
    """The toy model on mmpretrain's CustomDataset: one folder per class."""
    cfg = Config.fromfile(str(TOY_CONFIG))
    cfg.train_dataloader.dataset = dict(
        type='CustomDataset', data_root=str(train_folder),
        pipeline=cfg.train_dataloader.dataset.pipeline)
    cfg.model.head.num_classes = num_classes
    cfg.val_cfg = None
    return cfg


def test_more_class_folders_than_classes(data, tmp_path):
    from mmpretrain.registry import DATASETS
    train = tmp_path / 'folders'
    shutil.copytree(data / 'train', train)
    for extra in ('zebra', 'zz_unsorted'):
        shutil.copytree(train / 'star', train / extra)
    cfg = folder_config(train)

    # What mmpretrain makes of it: labels up to 11 for a 10-class head.
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert max(dataset.get_data_info(i)['gt_label']
               for i in range(len(dataset))) == 11

    with pytest.raises(ValueError) as error:
        check_dataset_files(cfg, splits=('train', ))
    message = str(error.value)
    assert (f"{train} holds 12 class folders, labelled 0 to 11 in sorted "
            "order, but model.head.num_classes is 10: 'zebra' (label 10), "
            "'zz_unsorted' (label 11) would have no output of the model."
            ) in message
    assert 'set model.head.num_classes and data_preprocessor.num_classes ' \
        'to 12' in message

    check_dataset_files(folder_config(train, num_classes=12),
                        splits=('train', ))


def test_class_names_that_do_not_match_the_folders(data, tmp_path):
    train = tmp_path / 'folders'
    shutil.copytree(data / 'train', train)
    shutil.rmtree(train / 'star')
    cfg = folder_config(train)
    cfg.train_dataloader.dataset.metainfo = dict(
        classes=[f'class{i}' for i in range(10)])
    with pytest.raises(ValueError, match=f'{train} holds 9 class folders .* '
                       'but metainfo.classes of the dataset names 10'):
        check_dataset_files(cfg, splits=('train', ))


def test_head_smaller_than_a_fixed_dataset():
    cfg = Config.fromfile(str(REPO_ROOT / 'configs/classification/resnet' /
                              'resnet18_1xb128_cifar100.py'))
    cfg.model.head.num_classes = 10
    # Only the labels: CIFAR itself need not be here.
    with pytest.raises(ValueError, match='CIFAR100 has 100 classes .* but '
                       'model.head.num_classes is 10'):
        check_classification_labels(cfg, splits=('train', ))


def test_good_toy_data_passes(toy_root):
    cfg = Config.fromfile(str(TOY_CONFIG))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = str(toy_root)
    check_dataset_files(cfg, splits=('train', 'val', 'test'))


def test_empty_image_stops_training(data, train_tool, tmp_path):
    image = data / 'val' / 'star' / (
        (data / 'meta' / 'val.txt').read_text().split('star/')[1].split()[0])
    image.write_bytes(b'')
    message = refused(train_tool, data, tmp_path)
    assert (f'1 of the 10 image files that val_dataloader.dataset '
            f'(annotation file {data}/meta/val.txt) lists cannot be read'
            ) in message
    assert f'1 is empty (0 bytes): {image}' in message
    assert (f'python tools/generate_toy_cls.py --out-dir {data} --num-train '
            '2 --num-val 1 --overwrite') in message

    # Following the advice repairs the dataset.
    generate_toy_cls(data, TOY_DATA, overwrite=True)
    check_dataset_files(folder_config(data / 'train'), splits=('train', ))


def test_damaged_image_in_class_folders(data, tmp_path):
    """CustomDataset reads the image files of each class folder; they are
    the ones checked (a file it does not read is not)."""
    from mmpretrain.registry import DATASETS
    train = tmp_path / 'folders'
    shutil.copytree(data / 'train', train)
    damaged = sorted((train / 'ellipse').iterdir())[1]
    damaged.write_bytes(b'not a PNG')
    (train / 'ellipse' / 'notes.txt').write_bytes(b'')  # not an image
    cfg = folder_config(train)

    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert [dataset.get_data_info(i)['img_path']
            for i in range(len(dataset))] == listed_images(
                cfg.train_dataloader.dataset)[0]

    with pytest.raises(ValueError) as error:
        check_dataset_files(cfg, splits=('train', ))
    message = str(error.value)
    assert (f'1 of the 20 image files that train_dataloader.dataset (class '
            f'folders in {train}) lists cannot be read') in message
    assert ('1 cannot be decoded as an image (damaged, cut off or not an '
            f'image): {damaged}\n') in message
    assert 'notes.txt' not in message
    assert 'or remove them from the class folders' in message
