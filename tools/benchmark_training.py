"""Training speed of a detector with SGD vs SGD_GC, measured side by side.

Two copies of the same model (same initial weights, same batch) are trained
alternately, one iteration each, so that any drift of the machine hits both
alike. The median iteration time of each is reported with the overhead of GC
in percent.

Usage:
    python tools/benchmark_training.py                      # Faster R-CNN R50-FPN
    python tools/benchmark_training.py --quick              # CI smoke run
    python tools/benchmark_training.py --device cuda --size 800 1333 --batch 2
"""
import argparse
import copy
import statistics
import time

import torch
from mmengine.hub import get_config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.structures import InstanceData

import mmgc  # noqa: F401  (registers SGD_GC)
from mmgc.reporting import write_result_files

HYPER = dict(lr=0.002, momentum=0.9, weight_decay=1e-4)


def synthetic_batch(batch, height, width, num_classes):
    from mmdet.structures import DetDataSample
    samples = []
    g = torch.Generator().manual_seed(0)
    for i in range(batch):
        image = torch.randint(0, 255, (3, height, width), generator=g,
                              dtype=torch.uint8)
        sample = DetDataSample(metainfo=dict(
            img_id=i, img_shape=(height, width), ori_shape=(height, width),
            scale_factor=(1.0, 1.0), flip=False, flip_direction=None))
        x0, y0 = width // 8, height // 8
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor([[x0, y0, width // 2, height // 2],
                                 [width // 3, height // 4, width - x0,
                                  height - y0]], dtype=torch.float32),
            labels=torch.tensor([i % num_classes, (i + 1) % num_classes]))
        samples.append(dict(inputs=image, data_samples=sample))
    return pseudo_collate(samples)


def build_model(config, device):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    cfg = get_config(config)
    cfg.model.backbone.init_cfg = None  # nothing to download
    torch.manual_seed(0)
    return MODELS.build(cfg.model).to(device), cfg


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument(
        '--config', default='mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--size', type=int, nargs=2, default=(320, 480),
                        metavar=('H', 'W'))
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--iters', type=int, default=20,
                        help='timed iterations per optimizer')
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--quick', action='store_true',
                        help='tiny images, one timed iteration each, no '
                        'warm-up (CI smoke run)')
    parser.add_argument('--out', metavar='STEM',
                        help='also write the result to STEM.md and STEM.json '
                        '(with the command and the machine), for the '
                        'documentation')
    args = parser.parse_args()
    if args.quick:
        args.size, args.iters, args.warmup, args.batch = (128, 128), 1, 0, 1
    device = torch.device(args.device)

    model, cfg = build_model(args.config, device)
    num_classes = cfg.model.roi_head.bbox_head.num_classes
    runs = {}
    for name in ('SGD', 'SGD_GC'):
        replica = copy.deepcopy(model)
        replica.train()
        wrapper = build_optim_wrapper(
            replica, dict(optimizer=dict(type=name, **HYPER)))
        runs[name] = dict(model=replica, wrapper=wrapper, times=[])
    data = synthetic_batch(args.batch, *args.size, num_classes)

    print(f'{args.config} on {device}: batch {args.batch} of '
          f'{args.size[0]}x{args.size[1]}, torch {torch.__version__}, '
          f'threads {torch.get_num_threads()}; '
          f'{args.warmup} warm-up + {args.iters} timed iterations each, '
          'alternating', flush=True)
    for i in range(args.warmup + args.iters):
        for name, run in runs.items():
            if device.type == 'cuda':
                torch.cuda.synchronize()
            start = time.perf_counter()
            run['model'].train_step(data, run['wrapper'])
            if device.type == 'cuda':
                torch.cuda.synchronize()
            if i >= args.warmup:
                run['times'].append(time.perf_counter() - start)
        print(f'  iteration {i + 1}/{args.warmup + args.iters}', end='\r',
              flush=True)
    print()

    medians = {n: statistics.median(r['times']) for n, r in runs.items()}
    overhead = (medians['SGD_GC'] / medians['SGD'] - 1) * 100
    lines = [f'{"optimizer":<10} {"s/iter (median)":>16} {"iter/s":>8}']
    lines += [f'{name:<10} {seconds:>16.4f} {1 / seconds:>8.3f}'
              for name, seconds in medians.items()]
    lines.append(f'GC overhead per iteration: {overhead:+.2f}%')
    print('\n'.join(lines))
    if args.out:
        write_result_files(
            args.out, title=f'Training iterations with SGD and SGD_GC '
            f'({args.config}, batch {args.batch} of '
            f'{args.size[0]}x{args.size[1]}, {args.iters} timed iterations '
            'each, alternating)', table='\n'.join(lines),
            data=dict(config=args.config, batch=args.batch,
                      size=list(args.size), iters=args.iters,
                      seconds_per_iter=medians, overhead_percent=overhead),
            device=args.device)


if __name__ == '__main__':
    main()
