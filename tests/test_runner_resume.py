"""Runner checkpoints written by mmengine 0.10.7 resume on torch >= 2.6 once
mmgc is imported, without turning the safe unpickler off."""
import pickle

import pytest
import torch
import mmengine
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.utils import digit_version
from torch import nn
from torch.utils.data import Dataset

import mmgc  # noqa: F401
from mmgc.torch_compat import torch_version_at_least

pytestmark = [pytest.mark.optim]


class TinyNet(BaseModel):

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 2)

    def forward(self, inputs, labels, mode='loss'):
        logits = self.fc(self.conv(inputs).mean(dim=(2, 3)))
        if mode == 'loss':
            return dict(loss=nn.functional.cross_entropy(logits, labels))
        return logits


class RandomImages(Dataset):

    def __len__(self):
        return 16

    def __getitem__(self, index):
        g = torch.Generator().manual_seed(index)
        return dict(inputs=torch.randn(3, 8, 8, generator=g),
                    labels=torch.tensor(index % 2))


def make_runner(work_dir, max_iters, resume=False):
    return Runner(
        model=TinyNet(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=RandomImages(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=4,
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(
            optimizer=dict(type='SGD_GC', lr=0.1, momentum=0.9,
                           weight_decay=1e-4)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=2,
                            by_epoch=False)),
        resume=resume,
        default_scope='mmengine',
        randomness=dict(seed=0))


def test_runner_resumes_its_checkpoint_and_continues(tmp_path):
    make_runner(tmp_path, max_iters=2).train()
    assert (tmp_path / 'iter_2.pth').exists()

    resumed = make_runner(tmp_path, max_iters=4, resume=True)
    resumed.train()
    assert resumed.iter == 4
    optimizer = resumed.optim_wrapper.optimizer
    assert type(optimizer).__name__ == 'SGD_GC'
    # the momentum of iterations 1-2 came back from the checkpoint
    assert all('momentum_buffer' in s for s in optimizer.state.values())

    # ... and the result is the uninterrupted run's, where mmengine resumes
    # the data where it stopped (0.10.3 and later; before, a resumed
    # iteration-based run starts the dataloader over).
    if digit_version(mmengine.__version__) < digit_version('0.10.3'):
        pytest.skip(f'mmengine {mmengine.__version__} restarts the data on '
                    'resume (fixed in mmengine 0.10.3)')
    straight = make_runner(tmp_path / 'straight', max_iters=4)
    straight.train()
    for a, b in zip(resumed.model.parameters(), straight.model.parameters()):
        assert torch.equal(a, b)


class _Smuggler:
    """Pickles as getattr(owner, name): what a hostile file could contain."""

    def __init__(self, owner, name):
        self.owner, self.name = owner, name

    def __reduce__(self):
        return getattr, (self.owner, self.name)


# Before torch 2.6, torch.load does not default to the weights-only
# unpickler, so there is no allow-list for mmgc to extend.
needs_weights_only_default = pytest.mark.skipif(
    not torch_version_at_least('2.6'),
    reason=f'torch {torch.__version__}: torch.load defaults to the '
    'weights-only unpickler only from torch 2.6')


@needs_weights_only_default
@pytest.mark.parametrize('owner,name', [(HistoryBuffer, '__init__'),
                                        (HistoryBuffer, '_set_default_statistics'),
                                        (Runner, 'from_cfg')])
def test_only_history_buffer_methods_pass_the_allow_list(tmp_path, owner,
                                                         name):
    path = tmp_path / 'hostile.pth'
    torch.save({'x': _Smuggler(owner, name)}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)


@needs_weights_only_default
def test_history_buffer_methods_still_load(tmp_path):
    path = tmp_path / 'hub.pth'
    buffer = HistoryBuffer()
    buffer.update(1.5)
    torch.save({'buffer': buffer, 'method': HistoryBuffer.mean}, path)
    loaded = torch.load(path)
    assert loaded['method'] is HistoryBuffer.mean
    assert loaded['buffer'].current() == 1.5
