"""The toy detector trained with sharded parameters through tools/train.py:
FlexibleRunner + GCFSDPStrategy (torch FSDP1) + SGD_GC on 2 CPU processes."""

import pytest

from _det_utils import REPO_ROOT
from _sharded_toy_runs import assert_slice_sums_kept, train_toy_detector
from _torch_support import skip_unless_fsdp1_runs_on_cpu

# A toy detector (mmdet) trained by FlexibleRunner (mmengine >= 0.8).
pytestmark = [pytest.mark.sharded, pytest.mark.detection]

TOY_FSDP = (REPO_ROOT /
            'configs/sharded/faster-rcnn_toy-r18_fpn_gc-fsdp_1x_toycoco.py')


def test_fsdp_toy_detector_trains_with_exact_gc(tmp_path, free_port):
    skip_unless_fsdp1_runs_on_cpu()
    work_dir = train_toy_detector(tmp_path, TOY_FSDP, 'DumpFullParamsHook',
                                  free_port)
    log = next(work_dir.glob('*/*.log')).read_text()
    assert 'GCFSDPStrategy' in log or 'FlexibleRunner' in log
    # GC keeps each output slice's sum on the sharded pieces too; float32
    # weights round every element at every step, so the sums drift by up to
    # ~1e-3 of the movement (measured: 7e-4).
    assert_slice_sums_kept(work_dir, max_drift=1e-2)
