"""Training processes killed with SIGKILL, then ``tools/train.py --resume``,
on the toy classifier (3 epochs of 5 iterations):

* killed while it writes the checkpoint of epoch 2 (a slow disk:
  tests/_run_control.py): the checkpoint of epoch 1 survives and the run
  resumes from it;
* killed after the checkpoint of epoch 2, with ``last_checkpoint`` naming
  a deleted file (where mmengine's CheckpointHook can leave it): the run
  resumes from epoch_2.pth;

and in both cases the resumed run ends bit for bit where the uninterrupted
run ends (weights, optimizer state, validation accuracy of every epoch).
Also tools/test.py on a classifier config with a detector-like checkpoint.
"""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from mmgc.datasets import ToyClsSettings
from _det_utils import PYTHON, REPO_ROOT, TESTS_DIR, run_tool

pytestmark = [pytest.mark.classification]

TOY = REPO_ROOT / 'configs/classification/toy/resnet18-w16_1xb64_toycls.py'
TOY_DATA = ToyClsSettings(num_train_per_class=8, num_val_per_class=4)
MAX_EPOCHS = 3


@pytest.fixture(scope='module')
def config(toy_root, tmp_path_factory) -> Path:
    """The toy config with the hook tests/_run_control.py pauses in."""
    path = tmp_path_factory.mktemp('config') / 'toy_cls_killed.py'
    path.write_text(
        f"_base_ = '{TOY}'\n"
        "custom_imports = dict(imports=['mmgc', '_run_control'], "
        'allow_failed_imports=False)\n'
        "custom_hooks = [dict(type='PauseAtEpochHook')]\n")
    return path


def train_command(config: Path, work_dir: Path, toy_root: Path, *extra):
    options = [
        f'{key}.dataset.data_root={toy_root}'
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    ]
    return [
        PYTHON, 'tools/train.py', config, '--work-dir', work_dir,
        '--cfg-options', *options, f'train_cfg.max_epochs={MAX_EPOCHS}',
        'train_dataloader.batch_size=16', *extra
    ]


def env(**variables):
    return dict(PYTHONPATH=str(TESTS_DIR), **variables)


def kill_when_stopped(command, marker: Path, timeout: float = 300, **stop):
    """Start the training command, wait until tests/_run_control.py stopped
    it where ``stop`` says, and kill it with SIGKILL."""
    process = subprocess.Popen(
        [str(a) for a in command], cwd=REPO_ROOT,
        env={**os.environ, 'OMP_NUM_THREADS': '1',
             **env(MMGC_TEST_MARKER=str(marker), **stop)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + timeout
    try:
        while not marker.exists():
            if process.poll() is not None:
                raise AssertionError('training ended before it was stopped:'
                                     f'\n{process.stdout.read()[-4000:]}')
            assert time.monotonic() < deadline, 'training never stopped'
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate()


def accuracies(work_dir: Path):
    """top-1 of every validation, by epoch, over all sessions of a run."""
    found = {}
    for scalars in sorted(work_dir.glob('*/vis_data/scalars.json')):
        for line in scalars.read_text().splitlines():
            entry = json.loads(line)
            if 'accuracy/top1' in entry:
                found[entry['step']] = entry['accuracy/top1']
    return found


def assert_same_run(work_dir: Path, reference: Path):
    final, expected = (torch.load(d / f'epoch_{MAX_EPOCHS}.pth',
                                  weights_only=False)
                       for d in (work_dir, reference))
    assert final['state_dict'].keys() == expected['state_dict'].keys()
    differing = [k for k, v in expected['state_dict'].items()
                 if not torch.equal(v, final['state_dict'][k])]
    assert not differing, f'{len(differing)} tensors differ: {differing[:5]}'
    for index, state in expected['optimizer']['state'].items():
        assert torch.equal(
            state['momentum_buffer'],
            final['optimizer']['state'][index]['momentum_buffer'])
    assert accuracies(work_dir) == accuracies(reference)
    assert sorted(accuracies(reference)) == list(range(1, MAX_EPOCHS + 1))


@pytest.fixture(scope='module')
def uninterrupted(config, toy_root, tmp_path_factory) -> Path:
    work_dir = tmp_path_factory.mktemp('uninterrupted')
    run_tool(train_command(config, work_dir, toy_root), env=env())
    return work_dir


def test_killed_while_saving_resumes_from_the_previous_checkpoint(
        config, toy_root, uninterrupted, tmp_path):
    work_dir = tmp_path / 'run'
    kill_when_stopped(train_command(config, work_dir, toy_root),
                      tmp_path / 'stopped',
                      MMGC_TEST_STALL_WRITE='epoch_2.pth')
    # Half of epoch 2's checkpoint is on disk, under its partial name; epoch
    # 1's is whole and last_checkpoint still names it.
    assert (work_dir / 'epoch_2.pth.partial').is_file()
    assert not (work_dir / 'epoch_2.pth').exists()
    assert (work_dir / 'last_checkpoint').read_text() == str(
        work_dir / 'epoch_1.pth')
    assert torch.load(work_dir / 'epoch_1.pth',
                      weights_only=False)['meta']['epoch'] == 1

    result = run_tool(train_command(config, work_dir, toy_root, '--resume'),
                      env=env())
    assert (f'--resume: skipped {work_dir}/epoch_2.pth.partial: it is '
            'partial: its save never completed.') in result.stdout
    assert (f'--resume: resuming from {work_dir}/epoch_1.pth (epoch 1, '
            'iteration 5).') in result.stdout
    assert not (work_dir / 'epoch_2.pth.partial').exists()
    assert_same_run(work_dir, uninterrupted)


def test_killed_after_a_checkpoint_resumes_exactly(config, toy_root,
                                                   uninterrupted, tmp_path):
    work_dir = tmp_path / 'run'
    kill_when_stopped(train_command(config, work_dir, toy_root),
                      tmp_path / 'stopped', MMGC_TEST_PAUSE_AT_EPOCH='2')
    assert (work_dir / 'epoch_2.pth').is_file()
    assert not (work_dir / 'epoch_1.pth').exists()  # max_keep_ckpts=1
    # mmengine's CheckpointHook removes epoch_1.pth before it writes
    # epoch_2.pth and repoints last_checkpoint after: a kill in between
    # leaves last_checkpoint naming the removed file.
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'epoch_1.pth'))

    result = run_tool(train_command(config, work_dir, toy_root, '--resume'),
                      env=env())
    assert (f'--resume: skipped {work_dir}/last_checkpoint: it names '
            f'{work_dir}/epoch_1.pth, which does not exist.') in result.stdout
    assert (f'--resume: resuming from {work_dir}/epoch_2.pth (epoch 2, '
            'iteration 10).') in result.stdout
    assert_same_run(work_dir, uninterrupted)


def test_test_tool_refuses_a_detector_checkpoint(uninterrupted, toy_root,
                                                 tmp_path):
    """A checkpoint whose backbone names match but whose shapes and heads
    do not (what a detector's checkpoint looks like to a classifier)."""
    checkpoint = torch.load(uninterrupted / f'epoch_{MAX_EPOCHS}.pth',
                            weights_only=False)
    weights = checkpoint['state_dict']
    weights['backbone.conv1.weight'] = torch.zeros(64, 3, 7, 7)
    for key in [k for k in weights if k.startswith('head.')]:
        weights[key.replace('head.', 'roi_head.bbox_head.')] = weights.pop(
            key)
    detector = tmp_path / 'detector.pth'
    torch.save(checkpoint, detector)
    options = ['--cfg-options'] + [
        f'{key}.dataset.data_root={toy_root}'
        for key in ('val_dataloader', 'test_dataloader')
    ]

    result = run_tool([PYTHON, 'tools/test.py', TOY, detector, '--work-dir',
                       tmp_path / 'strict', *options], check=False)
    assert result.returncode != 0
    assert 'accuracy/top1' not in result.stdout
    assert f'CheckpointMismatchError: {detector} does not fit the model of ' \
        in result.stderr
    assert '2 missing keys' in result.stderr
    assert 'missing: head.fc.weight, head.fc.bias' in result.stderr
    assert ('size mismatch: backbone.conv1.weight (checkpoint [64, 3, 7, 7], '
            'model [16, 3, 3, 3])') in result.stderr

    result = run_tool([PYTHON, 'tools/test.py', TOY, detector, '--work-dir',
                       tmp_path / 'loose', '--non-strict', *options])
    assert 'accuracy/top1: ' in result.stdout
    assert ('2 missing keys (in the model, not in the checkpoint), 2 '
            'unexpected keys (in the checkpoint, not in the model), 1 '
            'size-mismatched keys') in result.stdout
