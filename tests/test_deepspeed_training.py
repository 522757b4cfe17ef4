"""The toy detector trained under DeepSpeed ZeRO-2 through tools/train.py:
FlexibleRunner + GCDeepSpeedStrategy + SGD_GC on 2 CPU processes."""

import pytest

from _det_utils import REPO_ROOT
from _sharded_toy_runs import assert_slice_sums_kept, train_toy_detector

# A toy detector (mmdet) trained by FlexibleRunner (mmengine >= 0.8) with
# DeepSpeed (the deepspeed extra).
pytestmark = [
    pytest.mark.sharded, pytest.mark.detection, pytest.mark.deepspeed
]

TOY_ZERO2 = (REPO_ROOT /
             'configs/sharded/faster-rcnn_toy-r18_fpn_gc-zero2_1x_toycoco.py')


def test_zero2_toy_detector_trains_with_exact_gc(tmp_path, free_port):
    work_dir = train_toy_detector(tmp_path, TOY_ZERO2, 'DumpFP32MastersHook',
                                  free_port)
    log = next(work_dir.glob('*/*.log')).read_text()
    assert 'GCDeepSpeedStrategy' in log
    # DeepSpeed's checkpoint layout: a folder per checkpoint.
    assert (work_dir / 'epoch_1.pth').is_dir()
    # GC keeps each output slice's sum on ZeRO's partitions too; float32
    # masters round every element at every step.
    worst_sum = assert_slice_sums_kept(work_dir, max_drift=1e-2)
    print(f'\nmax slice-sum drift / movement: {worst_sum:.2g}')
