"""GC under DeepSpeed ZeRO on GPUs: what tests/test_deepspeed.py cannot check
on CPUs.

Runs GCDeepSpeedStrategy on up to two GPUs with NCCL, through mmengine's own
distributed setup (torch.cuda.set_device), for ZeRO stages 1, 2 and 3:

* fp32: the ZeRO run against the same model and optimizer without sharding
  on the average gradient (largest difference of the weights);
* fp16 with DeepSpeed's loss scaler and bf16, DeepSpeed's CUDA paths: every
  applied step keeps each output slice's sum of the fp32 masters (GC,
  paper Theorem 4.1), every skipped step changes nothing;
* ZeRO-Offload of the optimizer to the CPU: the slice sums of the CPU
  partitions are all-reduced through NCCL on the GPU.

Usage (one GPU is enough; two also cut the weights between ranks):
    python tools/check_deepspeed_gpu.py
Exits non-zero when a check fails.
"""
import os
import socket
import sys

import torch
import torch.multiprocessing as mp
from torch import nn

STEPS = 4

OPTIMIZERS = {
    'SGD_GC': dict(type='SGD_GC', lr=0.1, momentum=0.9, weight_decay=1e-2),
    'Adam_GC2': dict(type='Adam_GC2', lr=1e-2, weight_decay=1e-2),
    'GCAdamW': dict(type='GCAdamW', lr=1e-2, weight_decay=0.05),
    'Lookahead<GCRAdam>': dict(type='Lookahead', k=2,
                               optimizer=dict(type='GCRAdam', lr=1e-2)),
}


class Net(nn.Module):

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 15, 3, padding=1)
        self.fc = nn.Linear(60, 4)
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        x = nn.functional.adaptive_avg_pool2d(torch.relu(self.conv(x)), 2)
        return self.head(torch.relu(self.fc(x.flatten(1))))


def _batch(rank, step, dtype, device):
    g = torch.Generator().manual_seed(1000 * step + rank)
    return (torch.randn(4, 3, 6, 6, generator=g).to(device, dtype),
            torch.randn(4, 3, generator=g).to(device, dtype))


def _loss(model, x, y):
    return ((model(x) - y).float()**2).mean()


def _reference(name, world_size, device):
    from mmengine.optim import build_optim_wrapper
    torch.manual_seed(0)
    model = Net().to(device)
    wrapper = build_optim_wrapper(
        model, dict(type='OptimWrapper', optimizer=dict(OPTIMIZERS[name])))
    for step in range(STEPS):
        wrapper.zero_grad()
        loss = sum(
            _loss(model, *_batch(r, step, torch.float32, device))
            for r in range(world_size)) / world_size
        loss.backward()
        wrapper.step()
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def _slice_sums(weights):
    return {
        k: v.double().sum(dim=tuple(range(1, v.dim())))
        for k, v in weights.items() if v.dim() > 1
    }


def _run(rank, world_size, name, stage, precision, offload, work_dir):
    """Per step: (applied, largest weight change, largest slice-sum change
    over the slice's movement); and the fp32 masters at the end."""
    from deepspeed.utils import safe_get_full_fp32_param

    from mmgc.engine.deepspeed import GCDeepSpeedStrategy
    zero = dict(stage=stage)
    config = {}
    if offload:
        zero['offload_optimizer'] = dict(device='cpu')
        config['zero_force_ds_cpu_optimizer'] = False
    kwargs = dict(zero_optimization=zero, config=config,
                  train_micro_batch_size_per_gpu=4, work_dir=work_dir,
                  env_kwargs=dict(launcher='pytorch',
                                  dist_cfg=dict(backend='nccl')))
    if precision != 'fp32':
        kwargs[precision] = dict(enabled=True)
        if precision == 'fp16':
            kwargs['fp16'].update(initial_scale_power=20, hysteresis=1)
    strategy = GCDeepSpeedStrategy(**kwargs)
    torch.manual_seed(0)
    model, wrapper = strategy.prepare(
        Net(),
        optim_wrapper=dict(type='DeepSpeedOptimWrapper',
                           optimizer=dict(OPTIMIZERS[name])),
        dispatch_kwargs=dict(max_iters=STEPS))
    engine = model.model
    dtype = dict(fp32=torch.float32, fp16=torch.float16,
                 bf16=torch.bfloat16)[precision]

    def masters():
        return {
            k: safe_get_full_fp32_param(p).detach().clone()
            for k, p in engine.module.named_parameters()
        }

    steps, before = [], masters()
    for step in range(STEPS if precision == 'fp32' else 6):
        skipped = engine.skipped_steps
        x, y = _batch(rank, step, dtype, engine.device)
        wrapper.update_params(_loss(engine, x, y))
        after = masters()
        moved = max((after[k] - before[k]).abs().max().item() for k in after)
        drift = max(((s - _slice_sums(before)[k]).abs().max() /
                     (after[k] - before[k]).abs().sum(
                         dim=tuple(range(1, after[k].dim()))).max().clamp(
                             min=1e-30)).item()
                    for k, s in _slice_sums(after).items())
        steps.append((engine.skipped_steps == skipped, moved, drift))
        before = after
    return steps, before


def _worker(rank, world_size, port, work_dir, out):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port),
                      RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world_size))
    torch.backends.cudnn.deterministic = True
    import mmgc  # noqa: F401
    failures, lines = [], []
    cases = [(name, stage, 'fp32', False) for stage in (1, 2, 3)
             for name in OPTIMIZERS]
    cases += [(name, stage, precision, False)
              for precision in ('fp16', 'bf16') for stage in (1, 2, 3)
              for name in ('SGD_GC', 'Adam_GC2')]
    cases += [('SGD_GC', 2, 'fp32', True), ('Adam_GC2', 3, 'fp32', True)]
    for name, stage, precision, offload in cases:
        label = (f'ZeRO-{stage} {precision} {name}'
                 f'{" offload" if offload else ""}')
        try:
            steps, final = _run(rank, world_size, name, stage, precision,
                                offload, work_dir)
        except Exception as exc:  # report every case, then fail
            failures.append(f'{label}: {exc!r}')
            continue
        if precision == 'fp32':
            ref = _reference(name, world_size, torch.device('cuda', rank))
            diff = max((final[k] - ref[k]).abs().max().item() for k in ref)
            lines.append(f'{label:40s} max |ZeRO - unsharded| {diff:.3g}')
            if not diff < 1e-5:
                failures.append(f'{label}: differs by {diff:.3g}')
        else:
            applied = [s for s in steps if s[0]]
            skipped = [s for s in steps if not s[0]]
            worst = max((d for _, _, d in applied), default=float('nan'))
            lines.append(f'{label:40s} applied {len(applied)}, skipped '
                         f'{len(skipped)}, slice-sum drift {worst:.3g}')
            if (not applied or any(m != 0 for _, m, _ in skipped)
                    or not worst < 2e-5):
                failures.append(f'{label}: {steps}')
    if rank == 0:
        out.put((lines, failures))


def main() -> int:
    if not torch.cuda.is_available():
        print('check_deepspeed_gpu: no CUDA device; the CPU checks are '
              'tests/test_deepspeed.py.')
        return 2
    world_size = min(2, torch.cuda.device_count())
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    work_dir = os.path.abspath('work_dirs/check_deepspeed_gpu')
    out = mp.get_context('spawn').Queue()
    context = mp.spawn(_worker, args=(world_size, port, work_dir, out),
                       nprocs=world_size, join=False)
    lines, failures = out.get(timeout=1800)
    context.join()
    print(f'GC under DeepSpeed ZeRO on {world_size} GPU(s), '
          f'{torch.cuda.get_device_name(0)}:')
    print('\n'.join(f'  {line}' for line in lines))
    for failure in failures:
        print(f'FAILED {failure}')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
