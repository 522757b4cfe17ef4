"""GC inside mmengine's training system, with a real Runner on the CPU:
AMP's inf skip, gradient accumulation, two-process DDP (gloo), resume, and
the GC statistics hook."""
import copy
import json
import os
import uuid

import mmengine
import pytest
import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmengine.utils import digit_version
from torch import nn
from torch.utils.data import Dataset

import mmgc  # noqa: F401  (registers mmgc's optimizers, constructor, hook)
from mmgc.engine.cpu_distributed import (CPU_DDP_WRAPPER,
                                         init_cpu_process_group)
from _process_group import announce_ranks, leaving_together

pytestmark = [pytest.mark.optim]

N_SAMPLES = 16


class ToyNet(BaseModel):
    """A conv and a linear layer, no BatchNorm (accumulation and DDP are
    compared with bigger batches, which BatchNorm would tell apart)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4 * 3 * 3, 3)
        g = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.3 + 0.1)

    def forward(self, inputs, labels=None, mode='tensor'):
        logits = self.fc(self.conv(inputs).relu().flatten(1))
        if mode == 'loss':
            return dict(loss=F.cross_entropy(logits.float(), labels))
        return logits


class ToyData(Dataset):

    def __init__(self, inf_at=()):
        g = torch.Generator().manual_seed(1)
        self.inputs = torch.randn(N_SAMPLES, 3, 5, 5, generator=g)
        self.labels = torch.randint(0, 3, (N_SAMPLES, ), generator=g)
        for i in inf_at:
            self.inputs[i] = float('inf')

    def __len__(self):
        return N_SAMPLES

    def __getitem__(self, i):
        return dict(inputs=self.inputs[i], labels=self.labels[i])


class CPUAmpOptimWrapper(AmpOptimWrapper):
    """mmengine's AmpOptimWrapper with a CPU GradScaler and bfloat16
    autocast. mmengine's __init__ accepts only GPU/NPU/MLU/MUSA machines;
    backward, step (unscale, inf check, skip), update and the state dict are
    mmengine's own code."""

    def __init__(self, init_scale=2.0**16, **kwargs):
        OptimWrapper.__init__(self, **kwargs)
        self._scale_update_param = None
        self.loss_scaler = torch.amp.GradScaler('cpu', init_scale=init_scale)
        self.cast_dtype = torch.bfloat16


class Snapshots(Hook):
    """After every iteration: the weights, the optimizer state, the scale."""

    def __init__(self):
        self.taken = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        wrapper = runner.optim_wrapper
        scaler = getattr(wrapper, 'loss_scaler', None)
        self.taken.append(
            dict(params=copy.deepcopy(_model(runner).state_dict()),
                 optimizer=copy.deepcopy(wrapper.optimizer.state_dict()),
                 scale=scaler.get_scale() if scaler is not None else None))


def _model(runner):
    model = runner.model
    return model.module if hasattr(model, 'module') else model


def make_runner(work_dir, optimizer, max_iters, batch_size=2, inf_at=(),
                constructor=None, wrapper=None, accumulative_counts=1,
                checkpoint_interval=None, resume_from=None, hooks=(),
                launcher='none', model_wrapper_cfg=None, lr_drop_at=None,
                log_level='WARNING'):
    optim_wrapper = dict(optimizer=optimizer,
                         accumulative_counts=accumulative_counts)
    if constructor is not None:
        optim_wrapper['constructor'] = constructor
    if wrapper is not None:
        optim_wrapper.update(wrapper)
    checkpoint = None if checkpoint_interval is None else dict(
        type='CheckpointHook', by_epoch=False, interval=checkpoint_interval)
    return Runner(
        model=ToyNet(),
        work_dir=str(work_dir),
        # Unique: mmengine shares loggers/visualizers between same-named runs.
        experiment_name=f'run_{uuid.uuid4().hex[:8]}',
        train_dataloader=dict(
            dataset=ToyData(inf_at),
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            batch_size=batch_size,
            num_workers=0),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters),
        optim_wrapper=optim_wrapper,
        param_scheduler=None if lr_drop_at is None else dict(
            type='MultiStepLR', by_epoch=False, milestones=[lr_drop_at],
            gamma=0.1),
        default_hooks=dict(checkpoint=checkpoint,
                           logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=list(hooks),
        resume=resume_from is not None,
        load_from=resume_from,
        launcher=launcher,
        # The Runner reads model_wrapper_cfg from its config.
        cfg=dict(model_wrapper_cfg=model_wrapper_cfg),
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        randomness=dict(seed=0),
        log_level=log_level)


def assert_same_state(a, b, exact=True):
    """Two optimizer state dicts (or model state dicts) hold equal values."""
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b) if exact else torch.allclose(
            a, b, rtol=1e-5, atol=1e-7)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_same_state(a[key], b[key], exact)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same_state(x, y, exact)
    else:
        assert a == b


OPTIMIZERS = {
    'SGD_GC': dict(type='SGD_GC', lr=0.1, momentum=0.9, weight_decay=1e-3),
    'GCAdamW': dict(type='GCAdamW', lr=0.02, weight_decay=0.05),
    'Ranger': dict(type='Ranger', lr=0.02, k=3, weight_decay=0.01),
    'Lookahead': dict(type='Lookahead', k=3, alpha=0.5,
                      optimizer=dict(type='SGD_GC', lr=0.1, momentum=0.9)),
}


# --------------------------------------------------------------------------
# On CPU, mmengine's AmpOptimWrapper logic with a CPU GradScaler; where CUDA
# exists, also mmengine's AmpOptimWrapper itself (float16).
AMP_WRAPPERS = {'cpu-bf16': dict(type=CPUAmpOptimWrapper)}
if torch.cuda.is_available():
    AMP_WRAPPERS['cuda-fp16'] = dict(type='AmpOptimWrapper',
                                     loss_scale=dict(init_scale=256.0))


@pytest.mark.parametrize('amp', sorted(AMP_WRAPPERS))
@pytest.mark.parametrize('optimizer, constructor', [
    (OPTIMIZERS['GCAdamW'], None),
    (OPTIMIZERS['Ranger'], None),
    (dict(type='AdamW', lr=0.02), 'GCOptimWrapperConstructor'),
], ids=['GCAdamW', 'Ranger', 'GC-wrapped-AdamW'])
def test_amp_inf_gradient_skips_the_step_and_changes_nothing(
        tmp_path, optimizer, constructor, amp):
    if amp == 'cpu-bf16' and not hasattr(torch.amp, 'GradScaler'):
        pytest.skip(f'torch {torch.__version__} has no CPU GradScaler '
                    '(torch.amp.GradScaler, added in torch 2.3)')
    snapshots = Snapshots()
    # Samples 2 and 3 form the second batch: its gradient is inf/nan.
    runner = make_runner(tmp_path, optimizer, max_iters=3, inf_at=(2, ),
                         constructor=constructor,
                         wrapper=AMP_WRAPPERS[amp], hooks=[snapshots])
    initial = copy.deepcopy(runner.model.state_dict())
    runner.train()
    first, skipped, third = snapshots.taken

    assert_same_state(skipped['params'], first['params'])
    assert_same_state(skipped['optimizer'], first['optimizer'])
    assert skipped['scale'] == first['scale'] / 2  # GradScaler backed off
    # Non-vacuous: the steps around it did change the weights.
    assert not torch.equal(first['params']['conv.weight'],
                           initial['conv.weight'])
    assert not torch.equal(third['params']['conv.weight'],
                           skipped['params']['conv.weight'])
    assert torch.isfinite(third['params']['conv.weight']).all()


def test_accumulation_equals_one_bigger_batch(tmp_path):
    accumulated = make_runner(tmp_path / 'a', OPTIMIZERS['GCAdamW'],
                              max_iters=4, batch_size=2,
                              accumulative_counts=2)
    accumulated.train()
    big = make_runner(tmp_path / 'b', OPTIMIZERS['GCAdamW'], max_iters=2,
                      batch_size=4)
    big.train()
    a, b = accumulated.model.state_dict(), big.model.state_dict()
    assert_same_state(a, b, exact=False)
    assert not torch.allclose(a['conv.weight'], ToyNet().conv.weight)


def _ddp_worker(rank, world_size, port, work_dir, optimizer, constructor):
    announce_ranks(rank, world_size, port)
    init_cpu_process_group(dict(backend='gloo'))
    with leaving_together():
        runner = make_runner(work_dir, optimizer, max_iters=3, batch_size=2,
                             constructor=constructor, launcher='pytorch',
                             model_wrapper_cfg=dict(type=CPU_DDP_WRAPPER))
        runner.train()
        torch.save(_model(runner).state_dict(),
                   os.path.join(work_dir, f'rank{rank}.pth'))


@pytest.mark.parametrize('optimizer, constructor', [
    (OPTIMIZERS['GCAdamW'], None),
    (dict(type='SGD', lr=0.1, momentum=0.9), 'GCOptimWrapperConstructor'),
], ids=['GCAdamW', 'GC-wrapped-SGD'])
def test_two_process_ddp_equals_one_process_with_the_global_batch(
        tmp_path, free_port, optimizer, constructor):
    torch.multiprocessing.spawn(
        _ddp_worker,
        args=(2, free_port, str(tmp_path), optimizer, constructor),
        nprocs=2)
    rank0 = torch.load(tmp_path / 'rank0.pth')
    rank1 = torch.load(tmp_path / 'rank1.pth')
    assert_same_state(rank0, rank1)  # bit-identical on both ranks

    single = make_runner(tmp_path / 'single', optimizer, max_iters=3,
                         batch_size=4, constructor=constructor)
    single.train()
    assert_same_state(rank0, single.model.state_dict(), exact=False)
    assert not torch.allclose(rank0['conv.weight'], ToyNet().conv.weight)


@pytest.mark.parametrize('name', sorted(OPTIMIZERS))
def test_resume_at_iteration_2_equals_uninterrupted(tmp_path, name):
    # Before mmengine 0.10.3 a resumed iteration-based run starts the
    # dataloader over, so it cannot equal the uninterrupted one.
    if digit_version(mmengine.__version__) < digit_version('0.10.3'):
        pytest.skip(f'mmengine {mmengine.__version__} restarts the data on '
                    'resume (fixed in mmengine 0.10.3)')
    snapshots = Snapshots()
    full = make_runner(tmp_path / 'full', OPTIMIZERS[name], max_iters=4,
                       checkpoint_interval=2, hooks=[snapshots], lr_drop_at=3)
    full.train()
    checkpoint = tmp_path / 'full' / 'iter_2.pth'
    assert checkpoint.exists()

    resumed_snapshots = Snapshots()
    resumed = make_runner(tmp_path / 'resumed', OPTIMIZERS[name],
                          max_iters=4, resume_from=str(checkpoint),
                          hooks=[resumed_snapshots], lr_drop_at=3)
    resumed.train()
    assert len(resumed_snapshots.taken) == 2  # iterations 3 and 4 only
    assert_same_state(resumed_snapshots.taken[-1]['params'],
                      snapshots.taken[-1]['params'])
    assert_same_state(resumed_snapshots.taken[-1]['optimizer'],
                      snapshots.taken[-1]['optimizer'])
    # The scheduler's lr drop at iteration 3 happened in both.
    lr = resumed.optim_wrapper.get_lr()['lr'][0]
    assert lr == pytest.approx(
        full.optim_wrapper.get_lr()['lr'][0]) and lr < 0.02


class RecordGrads(Hook):
    """Keeps the gradients the optimizer sees at a given step (a step
    pre-hook, registered like GCStatsHook's)."""

    def __init__(self, at_iter):
        self.at_iter = at_iter
        self.grads = None

    def before_train(self, runner):
        runner.optim_wrapper.optimizer.register_step_pre_hook(self._keep)
        self._runner = runner

    def _keep(self, optimizer, args, kwargs):
        if self._runner.iter + 1 == self.at_iter:
            self.grads = {
                name: p.grad.clone()
                for name, p in _model(self._runner).named_parameters()
            }


def logged_scalars(runner, key: str) -> list:
    """The visualizer's scalar records of the run that hold ``key``."""
    with open(os.path.join(runner.log_dir, 'vis_data', 'scalars.json')) as f:
        records = [json.loads(line) for line in f]
    return [record for record in records if key in record]


def test_gc_stats_hook_logs_the_removed_share(tmp_path):
    recorder = RecordGrads(at_iter=2)
    runner = make_runner(tmp_path, OPTIMIZERS['SGD_GC'], max_iters=4,
                         hooks=[dict(type='GCStatsHook', interval=2),
                                recorder], log_level='INFO')
    runner.train()
    logged = logged_scalars(runner, 'gc/removed_ratio')
    assert [s['step'] for s in logged] == [2, 4]

    # Re-statement with plain means: ||mean part|| / ||gradient||.
    def parts(names):
        removed = total = 0.0
        for name in names:
            g = recorder.grads[name].double()
            mean = g.mean(dim=tuple(range(1, g.dim())), keepdim=True)
            removed += float(mean.expand_as(g).square().sum())
            total += float(g.square().sum())
        return (removed / total)**0.5

    first = logged[0]
    assert first['gc/removed_ratio'] == pytest.approx(
        parts(['conv.weight', 'fc.weight']), rel=1e-6)
    assert first['gc/removed_ratio/conv'] == pytest.approx(
        parts(['conv.weight']), rel=1e-6)
    assert first['gc/removed_ratio/fc'] == pytest.approx(
        parts(['fc.weight']), rel=1e-6)
    assert 0 < first['gc/removed_ratio'] < 1
    log = open(os.path.join(runner.log_dir,
                            f'{os.path.basename(runner.log_dir)}.log')).read()
    assert 'GC removed (iter 2): removed_ratio=' in log


@pytest.mark.parametrize('optimizer, centralized', [('SGD_GC', True),
                                                     ('SGD', False)])
def test_gradient_stats_hook_logs_figure_4s_curves(tmp_path, optimizer,
                                                   centralized):
    """The first conv and the last fc by default; in the GC run the
    gradient after GC (zero slice means), in the baseline the raw one."""
    recorder = RecordGrads(at_iter=2)
    optimizer_cfg = (OPTIMIZERS[optimizer] if optimizer in OPTIMIZERS else
                     dict(type=optimizer, lr=0.1))
    runner = make_runner(tmp_path, optimizer_cfg, max_iters=4,
                         hooks=[dict(type='GradientStatsHook', interval=2),
                                recorder], log_level='INFO')
    runner.train()
    logged = logged_scalars(runner, 'grad_l2/conv.weight')
    assert [s['step'] for s in logged] == [2, 4]
    for name in ('conv.weight', 'fc.weight'):
        g = recorder.grads[name].double()
        if centralized:
            g = g - g.mean(dim=tuple(range(1, g.dim())), keepdim=True)
        assert logged[0][f'grad_l2/{name}'] == pytest.approx(
            float(g.norm()), rel=1e-6)
        assert logged[0][f'grad_max/{name}'] == pytest.approx(
            float(g.abs().max()), rel=1e-6)


def test_gradient_stats_hook_names_an_unknown_layer(tmp_path):
    runner = make_runner(tmp_path, OPTIMIZERS['SGD_GC'], max_iters=1,
                         hooks=[dict(type='GradientStatsHook',
                                     layers=['backbone.conv1.weight'])])
    with pytest.raises(KeyError, match='GradientStatsHook: the model has no '
                       'parameter backbone.conv1.weight'):
        runner.train()


def test_gc_stats_hook_says_when_there_is_nothing_to_measure(tmp_path):
    runner = make_runner(tmp_path, dict(type='SGD', lr=0.1), max_iters=2,
                         hooks=[dict(type='GCStatsHook', interval=1)],
                         log_level='INFO')
    runner.train()
    log = open(os.path.join(runner.log_dir,
                            f'{os.path.basename(runner.log_dir)}.log')).read()
    assert 'GCStatsHook: SGD applies no Gradient Centralization' in log
    assert 'GC removed' not in log
