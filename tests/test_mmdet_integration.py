"""mmgc inside the real mmdet stack: a config that inherits mmdet's Faster
R-CNN and only adds mmgc, built and trained on CPU with compiled mmcv ops."""
import math
import os
import textwrap

import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.runner import Runner
from mmengine.structures import InstanceData
from torch.utils.data import Dataset

import mmgc  # noqa: F401

pytestmark = [pytest.mark.detection]

GC_FASTER_RCNN = textwrap.dedent("""
    _base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
    custom_imports = dict(imports=['mmgc'], allow_failed_imports=False)
    optim_wrapper = dict(
        optimizer=dict(type='SGD_GC', lr=0.02, momentum=0.9,
                       weight_decay=1e-4))
    # No download in tests: the backbone starts from random weights.
    model = dict(backbone=dict(init_cfg=None))
""")


class SyntheticDetection(Dataset):
    """A few images with boxes, already in the form mmdet's pipeline emits."""

    def __init__(self, size=(128, 160), length=4):
        self.size, self.length = size, length

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        g = torch.Generator().manual_seed(index)
        h, w = self.size
        image = torch.randint(0, 255, (3, h, w), generator=g,
                              dtype=torch.uint8)
        sample = DetDataSample(metainfo=dict(
            img_id=index, img_shape=(h, w), ori_shape=(h, w),
            scale_factor=(1.0, 1.0), flip=False, flip_direction=None))
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor([[10., 12., 70., 90.], [60., 30., 150.,
                                                        120.]]),
            labels=torch.tensor([index % 80, (index + 3) % 80]))
        image[:, 12:90, 10:70] = 255  # something to find
        return dict(inputs=image, data_samples=sample)


@pytest.fixture(scope='module')
def config(tmp_path_factory):
    path = tmp_path_factory.mktemp('cfg') / 'faster-rcnn_r50_fpn_gc_1x_coco.py'
    path.write_text(GC_FASTER_RCNN)
    return Config.fromfile(str(path))


def test_compiled_mmcv_ops_are_used():
    from mmcv.ops import RoIAlign, nms
    from mmcv.utils import ext_loader
    ext = ext_loader.load_ext('_ext', ['nms', 'roi_align_forward'])
    assert ext is not None
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.],
                          [20., 20., 30., 30.]])
    _, keep = nms(boxes, torch.tensor([0.9, 0.8, 0.7]), iou_threshold=0.5)
    assert keep.tolist() == [0, 2]
    feature = torch.arange(16.).view(1, 1, 4, 4)
    rois = torch.tensor([[0., 0., 0., 3., 3.]])
    out = RoIAlign((2, 2), spatial_scale=1.0, sampling_ratio=2,
                   aligned=False)(feature, rois)
    assert out.shape == (1, 1, 2, 2)
    assert torch.allclose(out.flatten(), torch.tensor([3.75, 5.25, 9.75,
                                                       11.25]))


def test_config_builds_and_one_training_step_gives_finite_losses(config):
    from mmcv.ops import RoIAlign
    from mmdet.registry import MODELS
    from mmengine.optim import build_optim_wrapper

    model = MODELS.build(config.model)
    roi_layers = model.roi_head.bbox_roi_extractor.roi_layers
    assert all(isinstance(layer, RoIAlign) for layer in roi_layers)
    optim_wrapper = build_optim_wrapper(model, config.optim_wrapper)
    assert type(optim_wrapper.optimizer).__name__ == 'SGD_GC'

    model.train()
    data = pseudo_collate([SyntheticDetection()[i] for i in range(2)])
    before = model.backbone.layer4[0].conv1.weight.detach().clone()
    log_vars = model.train_step(data, optim_wrapper)
    assert {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox'} <= set(
        log_vars)
    assert all(math.isfinite(float(v)) for v in log_vars.values())
    assert not torch.equal(model.backbone.layer4[0].conv1.weight, before)


def test_runner_trains_faster_rcnn_with_sgd_gc(config, tmp_path):
    runner = Runner(
        model=config.model,
        work_dir=str(tmp_path),
        train_dataloader=dict(
            dataset=SyntheticDetection(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=2,
            collate_fn=dict(type='pseudo_collate')),
        optim_wrapper=config.optim_wrapper,
        # One iteration: the step of SGD_GC and the checkpoint after it.
        train_cfg=dict(by_epoch=False, max_iters=1),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook',
                                           interval=1, by_epoch=False)),
        default_scope='mmdet')
    runner.train()
    assert runner.iter == 1
    assert type(runner.optim_wrapper.optimizer).__name__ == 'SGD_GC'
    assert runner.optim_wrapper.optimizer.state  # momentum buffers exist
    assert (tmp_path / 'iter_1.pth').exists()


def test_reid_configs_load_or_say_which_mmdet_they_need():
    # mmdet 3.0 has no ReID models: loading a ReID config must say so, not
    # fail later on an unknown registry name.
    from mmgc.compat import installed_version, mmdet_reid_problem
    config = os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        'configs', 'reid',
        'bot_r18-last-stride1_sgd-gcc_1xb64-36e_toy-market1501.py')
    problem = mmdet_reid_problem(installed_version('mmdet'))
    if problem is None:
        cfg = Config.fromfile(config)
        assert cfg.model.type == 'BaseReID'
    else:
        with pytest.raises(RuntimeError) as error:
            Config.fromfile(config)
        assert str(error.value) == problem
