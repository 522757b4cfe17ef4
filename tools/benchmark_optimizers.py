"""Time ``optimizer.step()`` of mmgc's optimizers against torch's.

For the parameter sets of ResNet-50 and of mmdet's Faster R-CNN R50-FPN, each
mmgc optimizer is timed side by side with (a) torch's optimizer of the same
family with the same hyper-parameters and foreach setting and (b) a plain
per-parameter GC loop written the way the authors' repository does it. All
variants live in one process, are stepped interleaved (round-robin), after a
warm-up, and the median is reported. Peak memory of a step is the resident
parameters, gradients and optimizer state plus the largest amount of
temporary memory the step held at once.

Usage:
    python tools/benchmark_optimizers.py                 # full run
    python tools/benchmark_optimizers.py --quick         # CI smoke run
    python tools/benchmark_optimizers.py --device cuda
"""
import argparse
import statistics
import time

import torch

import mmgc  # noqa: F401  (registers the optimizers)
from mmengine.registry import OPTIMIZERS
from mmgc.reporting import write_result_files
from mmgc.step_memory import PeakTemporaryMemory


# --------------------------------------------------------------------------
# Parameter sets
# --------------------------------------------------------------------------
def resnet50_shapes():
    from torchvision.models import resnet50
    return [p.shape for p in resnet50(weights=None).parameters()]


def resnet18_shapes():
    from torchvision.models import resnet18
    return [p.shape for p in resnet18(weights=None).parameters()]


def faster_rcnn_shapes():
    from mmengine.hub import get_config
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    cfg = get_config('mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py')
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    return [p.shape for p in model.parameters() if p.requires_grad]


PARAMETER_SETS = {
    'ResNet-18': resnet18_shapes,
    'ResNet-50': resnet50_shapes,
    'Faster R-CNN R50-FPN': faster_rcnn_shapes,
}


# --------------------------------------------------------------------------
# The authors' approach: one Python iteration and several kernels per tensor,
# centralizing .grad in place (as their repositories do).
# --------------------------------------------------------------------------
class PerParameterSGD_GC(torch.optim.Optimizer):

    def __init__(self, params, lr, momentum=0, weight_decay=0,
                 conv_only=False):
        super().__init__(params, dict(lr=lr, momentum=momentum,
                                      weight_decay=weight_decay))
        self.min_ndim = 4 if conv_only else 2

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group['params']:
                d_p = p.grad
                if group['weight_decay'] != 0:
                    d_p.add_(p, alpha=group['weight_decay'])
                if d_p.dim() >= self.min_ndim:
                    d_p.add_(-d_p.mean(dim=tuple(range(1, d_p.dim())),
                                       keepdim=True))
                state = self.state[p]
                if 'momentum_buffer' not in state:
                    buf = state['momentum_buffer'] = d_p.clone()
                else:
                    buf = state['momentum_buffer']
                    buf.mul_(group['momentum']).add_(d_p)
                p.add_(buf, alpha=-group['lr'])


class PerParameterAdam_GC(torch.optim.Optimizer):

    def __init__(self, params, lr, weight_decay=0, conv_only=False):
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay))
        self.min_ndim = 4 if conv_only else 2

    @torch.no_grad()
    def step(self):
        b1, b2, eps = 0.9, 0.999, 1e-8
        for group in self.param_groups:
            for p in group['params']:
                grad = p.grad
                state = self.state[p]
                if not state:
                    state.update(step=0, m=torch.zeros_like(p),
                                 v=torch.zeros_like(p))
                state['step'] += 1
                if group['weight_decay'] != 0:
                    grad.add_(p, alpha=group['weight_decay'])
                if grad.dim() >= self.min_ndim:
                    grad.add_(-grad.mean(dim=tuple(range(1, grad.dim())),
                                         keepdim=True))
                state['m'].mul_(b1).add_(grad, alpha=1 - b1)
                state['v'].mul_(b2).addcmul_(grad, grad, value=1 - b2)
                bc1, bc2 = 1 - b1**state['step'], 1 - b2**state['step']
                denom = (state['v'].sqrt() / bc2**0.5).add_(eps)
                p.addcdiv_(state['m'], denom, value=-group['lr'] / bc1)


# --------------------------------------------------------------------------
# What is compared: (row name, mmgc config, torch config, per-parameter loop)
# --------------------------------------------------------------------------
SGD_HP = dict(lr=0.02, momentum=0.9, weight_decay=1e-4)
ADAM_HP = dict(lr=1e-3, weight_decay=1e-4)


def comparisons():
    rows = [
        ('SGD_GC', dict(type='SGD_GC', **SGD_HP), dict(type='SGD', **SGD_HP),
         lambda ps: PerParameterSGD_GC(ps, **SGD_HP)),
        ('SGD_GCC', dict(type='SGD_GCC', **SGD_HP), dict(type='SGD', **SGD_HP),
         lambda ps: PerParameterSGD_GC(ps, conv_only=True, **SGD_HP)),
        ('Adam_GC', dict(type='Adam_GC', **ADAM_HP),
         dict(type='Adam', **ADAM_HP),
         lambda ps: PerParameterAdam_GC(ps, **ADAM_HP)),
        ('AdamW_GC', dict(type='AdamW_GC', **ADAM_HP),
         dict(type='AdamW', **ADAM_HP), None),
    ]
    # The GC-enabled general optimizers, where present.
    for name, torch_name, hp in (('GCSGD', 'SGD', SGD_HP),
                                 ('GCAdam', 'Adam', ADAM_HP),
                                 ('GCAdamW', 'AdamW', ADAM_HP)):
        if name in OPTIMIZERS.module_dict:
            per_param = (lambda ps: PerParameterSGD_GC(ps, **SGD_HP)) \
                if name == 'GCSGD' else None
            rows.append((name, dict(type=name, **hp),
                         dict(type=torch_name, **hp), per_param))
    return rows


# --------------------------------------------------------------------------
# Measurement
# --------------------------------------------------------------------------
def tensor_bytes(tensors):
    return sum(t.numel() * t.element_size() for t in tensors)


def initial_tensors(shapes, seed=0):
    """The parameters and the fixed gradients every variant starts from
    (drawn once per parameter set: drawing them takes longer than a
    step)."""
    key = (tuple(tuple(s) for s in shapes), seed)
    if key not in _INITIAL:
        g = torch.Generator().manual_seed(seed)
        params = [torch.randn(s, generator=g) for s in shapes]
        grads = [torch.randn(s, generator=g) * 1e-2 for s in shapes]
        _INITIAL.clear()  # one parameter set at a time in memory
        _INITIAL[key] = params, grads
    return _INITIAL[key]


_INITIAL = {}


class Variant:
    """One optimizer with its own parameters and fixed gradients."""

    def __init__(self, label, build, shapes, device, seed=0):
        params, grads = initial_tensors(shapes, seed)
        self.params = [torch.nn.Parameter(p.to(device, copy=True))
                       for p in params]
        self.grads = [grad.to(device, copy=True) for grad in grads]
        for p, grad in zip(self.params, self.grads):
            p.grad = grad.clone()
        self.label = label
        self.optimizer = build(self.params)
        self.device = device
        self.times = []

    def step(self):
        # The per-parameter loop modifies .grad, so every variant gets the
        # gradient restored (outside the timed region).
        for p, grad in zip(self.params, self.grads):
            p.grad.copy_(grad)
        sync(self.device)
        start = time.perf_counter()
        self.optimizer.step()
        sync(self.device)
        self.times.append(time.perf_counter() - start)

    def peak_memory(self):
        """Resident bytes (params, grads, state) + peak temporaries."""
        for p, grad in zip(self.params, self.grads):
            p.grad.copy_(grad)
        state = [v for s in self.optimizer.state.values() for v in s.values()
                 if isinstance(v, torch.Tensor)]
        resident = tensor_bytes(self.params) * 2 + tensor_bytes(state)
        if self.device.type == 'cuda':
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            self.optimizer.step()
            torch.cuda.synchronize()
            return resident + torch.cuda.max_memory_allocated() - base
        with PeakTemporaryMemory() as tracker:
            self.optimizer.step()
        return resident + tracker.peak


def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize()


def build_from_cfg(cfg, foreach):
    def build(params):
        return OPTIMIZERS.build(dict(cfg, params=params, foreach=foreach))
    return build


def run_row(name, mmgc_cfg, torch_cfg, per_param, shapes, device, foreach,
            warmup, repeats):
    variants = [
        Variant('mmgc', build_from_cfg(mmgc_cfg, foreach), shapes, device),
        Variant('torch', build_from_cfg(torch_cfg, foreach), shapes, device),
    ]
    if per_param is not None:
        variants.append(Variant('loop', per_param, shapes, device))
    for _ in range(warmup):
        for v in variants:
            v.step()
    for v in variants:
        v.times.clear()
    for _ in range(repeats):
        for v in variants:  # interleaved: drifts hit every variant alike
            v.step()
    medians = {v.label: statistics.median(v.times) for v in variants}
    memory = {v.label: v.peak_memory() for v in variants}
    return medians, memory


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--quick', action='store_true',
                        help='one timed step of each variant on ResNet-18, '
                        'no warm-up (CI smoke run)')
    parser.add_argument('--repeats', type=int, default=30)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--sets', nargs='*',
                        default=['ResNet-50', 'Faster R-CNN R50-FPN'],
                        choices=list(PARAMETER_SETS))
    parser.add_argument('--out', metavar='STEM',
                        help='also write the table to STEM.md and the '
                        'numbers to STEM.json (with the command and the '
                        'machine), for the documentation')
    args = parser.parse_args()
    device = torch.device(args.device)
    repeats, warmup = (1, 0) if args.quick else (args.repeats, args.warmup)
    sets = ['ResNet-18'] if args.quick else args.sets

    lines, rows = [], []

    def say(line: str = '') -> None:
        print(line, flush=True)
        lines.append(line)

    say(f'device: {device}, torch {torch.__version__}, '
        f'threads: {torch.get_num_threads()}, repeats: {repeats} '
        f'(median), warm-up: {warmup}')
    header = (f'{"parameter set":<22} {"optimizer":<9} {"foreach":>7} '
              f'{"mmgc ms":>8} {"torch ms":>9} {"loop ms":>8} '
              f'{"mmgc/torch":>10} {"loop/mmgc":>9} {"mem mmgc/torch":>14}')
    for set_name in sets:
        shapes = PARAMETER_SETS[set_name]()
        numel = sum(torch.Size(s).numel() for s in shapes)
        say()
        say(f'{set_name}: {len(shapes)} tensors, {numel / 1e6:.1f}M '
            'parameters')
        say(header)
        say('-' * len(header))
        for name, mmgc_cfg, torch_cfg, per_param in comparisons():
            for foreach in (False, True):
                t, mem = run_row(name, mmgc_cfg, torch_cfg, per_param, shapes,
                                 device, foreach, warmup, repeats)
                loop = t.get('loop')
                say(f'{set_name:<22} {name:<9} {str(foreach):>7} '
                    f'{t["mmgc"] * 1e3:>8.2f} {t["torch"] * 1e3:>9.2f} '
                    f'{(loop or float("nan")) * 1e3:>8.2f} '
                    f'{t["mmgc"] / t["torch"]:>10.2f} '
                    f'{(loop or float("nan")) / t["mmgc"]:>9.2f} '
                    f'{mem["mmgc"] / mem["torch"]:>14.3f}')
                rows.append(dict(parameter_set=set_name, optimizer=name,
                                 foreach=foreach, seconds=t,
                                 peak_memory_bytes=mem))
    if args.out:
        write_result_files(args.out, title='Optimizer step time and peak '
                           'memory, mmgc vs torch vs a per-parameter loop',
                           table='\n'.join(lines), data=rows,
                           device=args.device)


if __name__ == '__main__':
    main()
