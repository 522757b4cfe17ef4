"""The real-digit detection pair through the tools, shortened: mmdet's
CocoDataset reads the generated set (ten digit classes, boxes around the
ink), and tools/compare.py trains configs/digits/ (SGD and SGD_GC, seed 0)
for one epoch of a few images, its table written with --out.

The AP of so short a run says nothing; the measured comparison is in
docs/en/_generated/compare_digits_detection.md.
"""
import json

import pytest
from mmengine.config import Config

from _det_utils import (PYTHON, REPO_ROOT, data_root_options, run_tool,
                        tiny_schedule_options)

pytestmark = [pytest.mark.detection, pytest.mark.digits]

DIGITS = REPO_ROOT / 'configs/digits/faster-rcnn_toy-r18_fpn_1x_digitcoco.py'
DIGITS_GC = (REPO_ROOT /
             'configs/digits/faster-rcnn_toy-r18_fpn_gc_1x_digitcoco.py')
TOY = REPO_ROOT / 'configs/toy/faster-rcnn_toy-r18_fpn_1x_toycoco.py'


def test_the_pair_differs_from_the_toy_in_data_and_classes_only():
    baseline, gc, toy = (Config.fromfile(str(p))
                         for p in (DIGITS, DIGITS_GC, TOY))
    assert gc.optim_wrapper.optimizer.type == 'SGD_GC'
    gc.optim_wrapper.optimizer.type = 'SGD'
    assert gc.to_dict() == baseline.to_dict()
    assert baseline.model.roi_head.bbox_head.num_classes == 10
    toy.model.roi_head.bbox_head.num_classes = 10
    assert baseline.model.to_dict() == toy.model.to_dict()
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg'):
        assert baseline[key] == toy[key]


def test_mmdet_reads_the_generated_digits(digits_root):
    from mmdet.datasets import CocoDataset
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    cfg = Config.fromfile(str(DIGITS)).train_dataloader.dataset.to_dict()
    cfg.pop('type')
    cfg['data_root'] = f'{digits_root}/'
    dataset = CocoDataset(**cfg)
    assert dataset.metainfo['classes'] == tuple(str(d) for d in range(10))
    assert len(dataset) == 8
    sample = dataset[0]
    boxes = sample['data_samples'].gt_instances.bboxes.tensor
    assert len(boxes) >= 2 and (boxes[:, 2:] > boxes[:, :2]).all()


def test_compare_trains_the_pair_and_writes_the_result_files(
        digits_root, tmp_path):
    stem = tmp_path / 'compare_digits'
    result = run_tool([
        PYTHON, 'tools/compare.py', DIGITS, DIGITS_GC, '--seeds', '0',
        '--jobs', '2', '--work-dir', tmp_path / 'work', '--out', stem,
        '--cfg-options', *data_root_options(digits_root),
        *tiny_schedule_options(max_epochs=1)
    ])
    assert 'Detection: COCO box AP (%)' in result.stdout
    saved = json.loads(stem.with_suffix('.json').read_text())['results']
    assert saved['final_epochs'] == dict(baseline=[1], candidate=[1])
    assert saved['groups'][0]['columns'][0]['key'] == 'coco/bbox_mAP'


def test_missing_digits_name_their_generator(tmp_path, monkeypatch):
    from mmgc.datasets.checks import check_dataset_files
    cfg = Config.fromfile(str(DIGITS))
    monkeypatch.chdir(tmp_path)  # no data/digits_coco/ here
    with pytest.raises(FileNotFoundError,
                       match=r"mmgc\[digits\].*\n  python "
                       r'tools/generate_digits_coco.py'):
        check_dataset_files(cfg, splits=('train', ))
