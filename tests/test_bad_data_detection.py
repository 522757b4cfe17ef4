"""Bad COCO annotation files, unreadable images and heads with another
number of classes than the data stop the tools before anything is built,
with the file (or config key), what is wrong and how to fix it; annotations
mmdet would drop are never dropped without a word.

The tool runs (tools/train.py, tools/test.py) fail within seconds: the
check runs before the Runner. Two run the tools as commands; the others
run tools/train.py in this process, as test_checkpoint_files.py does,
which saves an interpreter start and the imports. The other cases call the
check the tools run (``check_dataset_files``) on the real toy config.
"""
import json
import logging
import shutil

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger

from _det_utils import (PYTHON, REPO_ROOT, TOY_FASTER, TOY_MASK,
                        data_root_options, run_tool, tiny_schedule_options)
from _tools import load_tool
from mmgc.datasets import (ToyCocoSettings, check_dataset_files,
                           generate_toy_coco)

pytestmark = [pytest.mark.detection]

# What the toy_root fixture writes (conftest.py).
TOY_DATA = ToyCocoSettings(num_train=16, num_val=8)
# The command that writes TOY_DATA again (its settings that are not
# defaults).
REGENERATE = ('python tools/generate_toy_data.py --out-dir {root} '
              '--num-train 16 --num-val 8 --overwrite')


@pytest.fixture
def data(toy_root, tmp_path):
    """A copy of the tiny toy dataset to break."""
    root = tmp_path / 'toy_coco'
    shutil.copytree(toy_root, root)
    return root


def train_json(root):
    return root / 'annotations' / 'instances_train2017.json'


def val_json(root):
    return root / 'annotations' / 'instances_val2017.json'


def edit_json(path, change):
    content = json.loads(path.read_text())
    change(content)
    path.write_text(json.dumps(content))


def toy_config(root, **train_dataset):
    cfg = Config.fromfile(str(TOY_FASTER))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = f'{root}/'
    for key in ('val_evaluator', 'test_evaluator'):
        cfg[key].ann_file = str(val_json(root))
    cfg.train_dataloader.dataset.update(train_dataset)
    return cfg


@pytest.fixture(scope='module')
def train_tool():
    """tools/train.py, loaded in this process: a refused run costs no
    interpreter start nor imports."""
    return load_tool('train')


def refused(train_tool, root, tmp_path, *options, config=TOY_FASTER,
            error=ValueError) -> str:
    """The message tools/train.py stops with before building anything."""
    with pytest.raises(error) as raised:
        train_tool.main([
            str(config), '--work-dir', str(tmp_path / 'work'),
            '--cfg-options', *data_root_options(root), *options
        ])
    assert not (tmp_path / 'work').exists()  # stopped before the Runner
    return str(raised.value)


def train(root, tmp_path):
    return run_tool([
        PYTHON, 'tools/train.py', TOY_FASTER, '--work-dir', tmp_path / 'work',
        '--cfg-options', *data_root_options(root),
        *tiny_schedule_options(max_epochs=1)
    ], check=False)


def test_undeclared_category_ids_stop_training(data, train_tool, tmp_path):
    """mmdet drops annotations whose category_id the file does not declare
    and trains on the rest; here the run stops and says how many."""
    moved = {}

    def undeclare(content):
        for index, annotation in enumerate(content['annotations']):
            if index % 3 == 0:
                annotation['category_id'] = 7 if index % 2 else 9
                moved[annotation['category_id']] = moved.get(
                    annotation['category_id'], 0) + 1
        moved['total'] = len(content['annotations'])

    edit_json(train_json(data), undeclare)
    message = refused(train_tool, data, tmp_path)
    assert str(train_json(data)) in message
    assert (f'{moved[7] + moved[9]} of {moved["total"]} annotations have a '
            'category_id that its categories do not declare') in message
    assert f'7 ({moved[7]} annotations), 9 ({moved[9]} annotations)' in (
        message)
    assert 'Declared: 1 (rectangle), 2 (ellipse), 3 (triangle), 4 (star)' \
        in message
    assert REGENERATE.format(root=data) in message


def test_truncated_file_stops_training_and_the_advice_repairs_it(
        data, tmp_path):
    text = train_json(data).read_text()
    train_json(data).write_text(text[:len(text) // 2])
    result = train(data, tmp_path)
    assert result.returncode != 0
    assert 'JSONDecodeError' not in result.stderr
    assert (f'Annotation file {train_json(data)} is truncated'
            in result.stderr)
    command = REGENERATE.format(root=data)
    assert command in result.stderr
    assert not (tmp_path / 'work').exists()

    # Following the advice writes a good file again.
    run_tool([PYTHON] + command.split()[1:])
    assert train_json(data).read_text() == text
    check_dataset_files(toy_config(data), splits=('train', 'val'))


def test_test_tool_names_a_broken_evaluation_file(data, tmp_path):
    val_json(data).write_bytes(bytes(range(256)))
    checkpoint = tmp_path / 'epoch_1.pth'
    # Never loaded: the data check comes before the Runner.
    torch.save({'meta': {}, 'state_dict': {}}, checkpoint)
    result = run_tool([
        PYTHON, 'tools/test.py', TOY_FASTER, checkpoint, '--work-dir',
        tmp_path / 'work', '--cfg-options', *data_root_options(data)
    ], check=False)
    assert result.returncode != 0
    assert (f'Annotation file {val_json(data)} is not UTF-8 text (byte '
            '0x80 at offset 128)') in result.stderr
    assert REGENERATE.format(root=data) in result.stderr


def _truncate_in_a_string(path):
    text = path.read_text()
    path.write_text(text[:text.index('"file_name"') + 5])


@pytest.mark.parametrize('damage, expected', [
    (lambda p: p.write_bytes(b''), 'is empty (0 bytes)'),
    (lambda p: p.write_text('\n  \n'), 'is empty (4 bytes)'),
    (_truncate_in_a_string, 'is truncated'),
    (lambda p: p.write_text('<html><body>Not Found</body></html>'),
     "is not valid JSON: Expecting value at line 1 column 1; it starts with "
     "'<html><body>Not Found</body></html>'"),
    (lambda p: p.write_text('{"images": [], "annotations": []} trailing'),
     'is not valid JSON: Extra data at line 1 column 35'),
    (lambda p: p.write_bytes('\ufeff{}'.encode('utf-8')),
     'starts with a UTF-8 byte-order mark'),
    (lambda p: p.write_bytes(b'{"images": "\xff\xfe"}'),
     'is not UTF-8 text (byte 0xff at offset 12)'),
    (lambda p: p.write_text('[1, 2]'), 'holds a JSON list'),
    (lambda p: p.write_text('{"info": {}}'), "has no 'images' list"),
    (lambda p: edit_json(p, lambda c: c.update(images=[])),
     "has no images: its 'images' list is empty"),
    (lambda p: edit_json(p, lambda c: c.update(annotations=[])),
     "has no annotations: its 'annotations' list is empty"),
    (lambda p: edit_json(p, lambda c: c.update(categories=[])),
     'declares no categories'),
    (lambda p: edit_json(p, lambda c: c['annotations'][3].pop('image_id')),
     "has a broken annotation: entry 3 of 'annotations' ({'id': 4, "),
    (lambda p: edit_json(p, lambda c: c['images'][1].pop('height')),
     "has no 'height'; every image needs 'file_name', 'height', 'id', "
     "'width'"),
    (lambda p: edit_json(p, lambda c: c['annotations'][0].update(
        image_id=999)),
     '1 of'),
], ids=['empty', 'blank', 'truncated-in-a-string', 'html', 'extra-data',
        'bom', 'not-utf8', 'list', 'no-images-key', 'no-images',
        'no-annotations', 'no-categories', 'annotation-without-ids',
        'image-without-height', 'unlisted-image'])
def test_broken_training_file_is_named_with_what_is_wrong(
        data, damage, expected):
    damage(train_json(data))
    with pytest.raises(ValueError) as error:
        check_dataset_files(toy_config(data), splits=('train', 'val'))
    message = str(error.value)
    assert str(train_json(data)) in message
    assert expected in message, message
    assert REGENERATE.format(root=data) in message


def test_unlisted_images_are_counted(data):
    edit_json(train_json(data),
              lambda c: [a.update(image_id=999) for a in c['annotations'][:2]])
    with pytest.raises(ValueError, match='2 of [0-9]+ annotations belong to '
                       'image ids that its images do not list: 999'):
        check_dataset_files(toy_config(data), splits=('train', ))


def test_evaluation_file_needs_annotations_but_test_images_need_none(data):
    edit_json(val_json(data), lambda c: c.pop('annotations'))
    with pytest.raises(ValueError, match="has no 'annotations' list"):
        check_dataset_files(toy_config(data), splits=('val', ))
    # Image information only (as COCO test-dev) is fine when the evaluator
    # only writes the results.
    cfg = toy_config(data)
    cfg.test_evaluator = dict(cfg.test_evaluator, format_only=True,
                              outfile_prefix='results')
    check_dataset_files(cfg, splits=('test', ))


def test_class_the_file_does_not_declare(data):
    cfg = toy_config(
        data, metainfo=dict(classes=('rectangle', 'ellipse', 'triangle',
                                     'stars')))
    with pytest.raises(ValueError) as error:
        check_dataset_files(cfg, splits=('train', ))
    message = str(error.value)
    assert ("train_dataloader.dataset.metainfo.classes names 1 class(es) "
            f"that annotation file {train_json(data)} does not declare: "
            'stars. Its categories: rectangle, ellipse, triangle, star.'
            ) in message


def test_config_without_classes_on_other_data(data):
    """No metainfo: CocoDataset's 80 COCO classes, none of them toy ones."""
    cfg = toy_config(data)
    cfg.train_dataloader.dataset.pop('metainfo')
    with pytest.raises(ValueError, match='sets no metainfo.classes, so mmdet '
                       "uses the dataset class's 80 default classes"):
        check_dataset_files(cfg, splits=('train', ))


def test_subset_of_the_classes_is_a_warning_with_the_count(data, tmp_path):
    """Training on some of the file's classes is what metainfo.classes is
    for: a warning, with the number of annotations left out."""
    content = json.loads(train_json(data).read_text())
    stars = sum(a['category_id'] == 4 for a in content['annotations'])
    log_file = tmp_path / 'check.log'
    MMLogger.get_instance('bad_data_subset', log_file=str(log_file),
                          log_level=logging.INFO)  # now the current logger
    cfg = toy_config(
        data, metainfo=dict(classes=('rectangle', 'ellipse', 'triangle')))
    cfg.model.roi_head.bbox_head.num_classes = 3  # a head for those three
    check_dataset_files(cfg, splits=('train', ))
    log = log_file.read_text()
    assert 'WARNING' in log
    assert (f'train_dataloader.dataset: {stars} of '
            f'{len(content["annotations"])} annotations of '
            f'{train_json(data)} are not trained on or evaluated') in log
    assert f"'star' (id 4: {stars} annotations)" in log


def test_filter_that_keeps_no_training_image(data):
    cfg = toy_config(data, filter_cfg=dict(filter_empty_gt=True,
                                           min_size=1000))
    with pytest.raises(ValueError, match='No image of annotation file .* is '
                       'left for training'):
        check_dataset_files(cfg, splits=('train', ))


def test_good_toy_data_passes(toy_root):
    check_dataset_files(toy_config(toy_root),
                        splits=('train', 'val', 'test'))


def test_boxes_mmdet_drops_are_counted_and_named(data, tmp_path):
    """mmdet drops boxes outside their image and boxes without size, and
    trains on the rest; the check warns with their count and ids, which
    are the ones mmdet drops."""

    def damage(content):
        annotations = content['annotations']
        annotations[2]['bbox'] = [300, 10, 20, 20]  # right of a 128 image
        annotations[4]['bbox'] = [-40, 5, 30, 30]  # left of it
        annotations[6]['bbox'][2] = 0  # zero width
        annotations[8]['bbox'][3] = -5  # negative height
        annotations[9]['area'] = 0

    edit_json(train_json(data), damage)
    total = len(json.loads(train_json(data).read_text())['annotations'])
    log_file = tmp_path / 'check.log'
    MMLogger.get_instance('bad_data_boxes', log_file=str(log_file),
                          log_level=logging.INFO)  # now the current logger
    cfg = toy_config(data)
    check_dataset_files(cfg, splits=('train', ))
    log = log_file.read_text()
    assert 'WARNING' in log
    assert (f'train_dataloader.dataset: mmdet drops 5 of the {total} '
            'annotations of the classes rectangle, ellipse, triangle, star '
            f'in {train_json(data)}, so they are not trained on: 2 lie '
            'outside their image (no overlap with its width x height; ids '
            '3, 5); 3 have a box of zero or negative size (width or height '
            'under 1 pixel, or area <= 0; ids 7, 9, 10)') in log

    # What mmdet's CocoDataset keeps: all but those five.
    import mmdet.datasets  # noqa: F401  (registers the datasets)
    from mmdet.registry import DATASETS
    dataset = DATASETS.build(dict(cfg.train_dataloader.dataset, pipeline=[]))
    assert sum(len(dataset.get_data_info(i)['instances'])
               for i in range(len(dataset))) == total - 5


def test_data_whose_every_box_mmdet_drops_stops_training(
        data, train_tool, tmp_path):
    edit_json(train_json(data), lambda c: [
        a['bbox'].__setitem__(2, 0.5) for a in c['annotations']])
    total = len(json.loads(train_json(data).read_text())['annotations'])
    message = refused(train_tool, data, tmp_path)
    assert (f'train_dataloader.dataset: mmdet would drop all {total} of the '
            f'{total} annotations of the classes rectangle, ellipse, '
            f'triangle, star in {train_json(data)}, leaving no box to train '
            f'on: {total} have a box of zero or negative size') in message
    assert 'Correct their bbox' in message


def test_unreadable_images_stop_training(data, train_tool, tmp_path):
    """cv2 would fail on the first of them mid-training, without naming
    the file."""
    images = data / 'train2017'
    (images / '000003.png').write_bytes(b'')
    cut_off = images / '000005.png'
    cut_off.write_bytes(cut_off.read_bytes()[:100])
    (images / '000011.png').unlink()
    message = refused(train_tool, data, tmp_path)
    assert ('3 of the 16 image files that train_dataloader.dataset '
            f'(annotation file {train_json(data)}) lists cannot be read'
            ) in message
    assert ('  - 1 does not exist (as a file): '
            f'{images / "000011.png"}\n'
            f'  - 1 is empty (0 bytes): {images / "000003.png"}\n'
            '  - 1 cannot be decoded as an image (damaged, cut off or not an '
            f'image): {cut_off}\n') in message
    assert REGENERATE.format(root=data) in message

    # Following the advice repairs the dataset.
    generate_toy_coco(data, TOY_DATA, overwrite=True)
    check_dataset_files(toy_config(data), splits=('train', 'val'))


@pytest.mark.parametrize('config, options, expected', [
    (TOY_FASTER, ['model.roi_head.bbox_head.num_classes=3'],
     ['model.roi_head.bbox_head.num_classes is 3, but '
      'train_dataloader.dataset has 4 classes (metainfo.classes: rectangle, '
      'ellipse, triangle, star)',
      'the classes beyond them learnt as background',
      '--cfg-options model.roi_head.bbox_head.num_classes=4)']),
    (TOY_FASTER, ['train_dataloader.dataset.metainfo.classes='
                  '(rectangle,ellipse,triangle)',
                  'val_dataloader.dataset.metainfo.classes='
                  '(rectangle,ellipse,triangle)'],
     ['model.roi_head.bbox_head.num_classes is 4, but '
      'train_dataloader.dataset has 3 classes (metainfo.classes: rectangle, '
      'ellipse, triangle)',
      'an IndexError inside CocoMetric',
      'set metainfo=dict(classes=(...)) of every dataloader dataset to the '
      '4 class names they are for']),
    (TOY_MASK, ['model.roi_head.mask_head.num_classes=5'],
     ['model.roi_head.mask_head.num_classes is 5, but '
      'train_dataloader.dataset has 4 classes',
      '--cfg-options model.roi_head.bbox_head.num_classes=4 '
      'model.roi_head.mask_head.num_classes=4)']),
], ids=['head-smaller', 'fewer-class-names', 'mask-head-larger'])
def test_head_classes_other_than_the_datas_stop_training(
        toy_root, train_tool, tmp_path, config, options, expected):
    message = refused(train_tool, toy_root, tmp_path, *options,
                      config=config)
    for text in expected:
        assert text in message, message
    assert 'rpn_head' not in message  # the RPN's 1 is not a class count
