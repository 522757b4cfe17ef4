"""GC under DeepSpeed ZeRO stages 1, 2 and 3 through GCDeepSpeedStrategy
(mmengine's DeepSpeedStrategy), two gloo processes on CPU, compared step by
step with the same model trained without sharding on the same data; mixed
precision (bf16, fp16 with its loss scaler); checkpoint resume; and what is
refused."""
import copy
import os

import pytest
import torch
import torch.distributed as dist

import mmgc  # noqa: F401  (registers; checks run at optimizer build)
from mmgc.engine.deepspeed import GCDeepSpeedStrategy, zero_partitions
from mmgc.reporting import write_result_files
from _process_group import join_gloo_group, leaving_together
from _sharded_nets import ConvNet, batch, train_on_average

# The deepspeed lane: the development setup installs DeepSpeed (a missing
# install fails here, not skips); the support matrix leaves the lane out.
pytestmark = [pytest.mark.sharded, pytest.mark.deepspeed]

STEPS = 4

#: name -> (optimizer config, built by GCOptimWrapperConstructor). The
#: constructor turns torch's optimizers into GCWrapped<...>; with a
#: paramwise_cfg mmengine puts every parameter in a group of its own, so
#: ZeRO cuts each weight separately.
CASES = {
    'SGD_GC': dict(type='SGD_GC', lr=0.1, momentum=0.9, weight_decay=1e-2),
    'SGD_GCC': dict(type='SGD_GCC', lr=0.1, momentum=0.9, weight_decay=1e-2),
    'GCSGD_maximize': dict(type='GCSGD', lr=0.05, momentum=0.9,
                           weight_decay=1e-2, nesterov=True, maximize=True),
    'Adam_GC2': dict(type='Adam_GC2', lr=1e-2, weight_decay=1e-2),
    'AdamW_GC': dict(type='AdamW_GC', lr=1e-2, weight_decay=1e-2),
    'Adagrad_GC': dict(type='Adagrad_GC', lr=0.05, weight_decay=1e-2),
    'GCAdam': dict(type='GCAdam', lr=1e-2, weight_decay=1e-2),
    'GCAdamW': dict(type='GCAdamW', lr=1e-2, weight_decay=0.05),
    'GCAdamW_gc_loc': dict(type='GCAdamW', lr=1e-2, weight_decay=0.05,
                           gc_loc=True),
    'GCRAdam': dict(type='GCRAdam', lr=1e-2, weight_decay=1e-2),
    'Lookahead<GCRAdam>': dict(type='Lookahead', k=2,
                               optimizer=dict(type='GCRAdam', lr=1e-2,
                                              weight_decay=1e-2)),
    'GCWrapped<SGD>': dict(type='SGD', lr=0.1, momentum=0.9,
                           weight_decay=1e-2),
    'GCWrapped<AdamW>': dict(type='AdamW', lr=1e-2, weight_decay=0.05),
    'Lookahead<GCWrapped<SGD>>': dict(type='Lookahead', k=2,
                                      optimizer=dict(type='SGD', lr=0.1,
                                                     momentum=0.9)),
    'GCWrapped<SGD>_per_param_groups': dict(type='SGD', lr=0.1,
                                            momentum=0.9, weight_decay=1e-2),
}


#: Optimizers that cannot be exact under ZeRO, refused with advice.
REFUSED = {
    # DeepSpeed rebuilds every torch Adagrad as a plain one.
    'GCWrapped<Adagrad>': dict(type='Adagrad', lr=0.05),
    # Centralizes its update before its own Lookahead sync.
    'Ranger': dict(type='Ranger', lr=1e-2, gc_loc=False),
}


def _optim_wrapper(name):
    cfg = dict(type='DeepSpeedOptimWrapper',
               optimizer=dict({**CASES, **REFUSED}[name]))
    if 'GCWrapped' in name:
        cfg['constructor'] = 'GCOptimWrapperConstructor'
    if name.endswith('_per_param_groups'):
        cfg['paramwise_cfg'] = dict(custom_keys={'head': dict(lr_mult=0.5)})
    return cfg


class Net(ConvNet):
    """Conv2d (15 filters of 27) + two Linear layers. ZeRO-1/2 cut the flat
    buffer inside filter 12 and leave rank 0 nothing of the Linear layers;
    ZeRO-3 cuts the conv weight inside filter 7 and the head inside a
    row."""

    def __init__(self):
        super().__init__(filters=15, hidden=4)


def _loss(model, x, y):
    return ((model(x) - y).float()**2).mean()


def _reference(name, world_size, steps=STEPS, max_norm=None):
    """The unsharded run: the gradient is the average over the ranks'
    batches, as data parallelism makes it (clipped to ``max_norm``)."""
    from mmengine.optim import build_optim_wrapper
    torch.manual_seed(0)
    model = Net()
    cfg = _optim_wrapper(name)
    cfg['type'] = 'OptimWrapper'
    if max_norm is not None:
        cfg['clip_grad'] = dict(max_norm=max_norm)
    wrapper = build_optim_wrapper(model, cfg)
    return train_on_average(model, wrapper, _loss, world_size, steps)


def _strategy(stage, work_dir, **config):
    zero = dict(stage=stage)
    zero.update(config.pop('zero', {}))
    return GCDeepSpeedStrategy(
        zero_optimization=zero, train_micro_batch_size_per_gpu=4,
        work_dir=str(work_dir), **config)


def _prepare(strategy, name):
    torch.manual_seed(0)
    model, wrapper = strategy.prepare(Net(),
                                      optim_wrapper=_optim_wrapper(name),
                                      dispatch_kwargs=dict(max_iters=STEPS))
    return model.model, wrapper


def _train(engine, wrapper, rank, steps, dtype=torch.float32):
    for step in steps:
        wrapper.update_params(_loss(engine, *batch(rank, step, dtype)))


def _full_fp32(engine):
    """Every weight, whole, from the fp32 master partitions (a collective:
    every rank calls it)."""
    from deepspeed.utils import safe_get_full_fp32_param
    return {
        name: safe_get_full_fp32_param(p).detach().clone()
        for name, p in engine.module.named_parameters()
    }


def _init(rank, world_size, port):
    join_gloo_group(rank, world_size, port)
    import deepspeed
    deepspeed.init_distributed(dist_backend='gloo')


def _exactness_worker(rank, world_size, port, cases, tmp, out):
    _init(rank, world_size, port)
    with leaving_together():
        results, references, layouts = {}, {}, {}
        for name, stage, extra in cases:
            key = (name, stage, _label(dict(extra)))
            strategy = _strategy(stage, tmp, **copy.deepcopy(dict(extra)))
            engine, wrapper = _prepare(strategy, name)
            if name == 'SGD_GC' and not extra:
                layouts[stage] = _pieces(engine)
            _train(engine, wrapper, rank, range(STEPS))
            got = _full_fp32(engine)
            if rank == 0:  # one unsharded run per optimizer, on one rank
                max_norm = dict(extra).get('gradient_clipping')
                if (name, max_norm) not in references:
                    references[(name, max_norm)] = _reference(
                        name, world_size, max_norm=max_norm)
                ref = references[(name, max_norm)]
                results[key] = max(
                    (got[k] - ref[k]).abs().max().item() for k in ref)
        gathered = [None] * world_size
        dist.all_gather_object(gathered, layouts)
        if rank == 0:
            out.put((results, gathered))


def _label(extra):
    zero = extra.get('zero', {})
    return ('offload' if 'offload_optimizer' in zero else
            'sub-groups' if 'sub_group_size' in zero else
            'clipping' if 'gradient_clipping' in extra else '')


def _pieces(engine):
    """Per partition: the weights' names, and this rank's pieces."""
    return [(layout.names, [tuple(p) for p in layout.pieces])
            for _, _, layout in zero_partitions(engine.optimizer,
                                                engine.module)]


def _held(parts, weight):
    """(start, numel) of this rank's pieces of ``weight``."""
    return [(start, numel) for names, pieces in parts
            for index, _, numel, start in pieces if names[index] == weight]


def _check_cuts(ranks):
    """The cuts the comparison relies on are where Net's docstring says."""
    # ZeRO-1/2: one flat buffer cut in two inside conv filter 12 (27
    # weights each); rank 0 holds nothing of fc and head.
    for stage in (1, 2):
        (conv0, ), (conv1, ) = (_held(r[stage], 'conv.weight')
                                for r in ranks)
        assert conv0[0] == 0 and conv0[1] % 27 and conv1[0] == conv0[1]
        assert conv0[1] + conv1[1] == 405
        assert not _held(ranks[0][stage], 'fc.weight')
        assert not _held(ranks[0][stage], 'head.weight')
    # ZeRO-3: every weight cut in two; the conv weight inside filter 7.
    (conv0, ), (conv1, ) = (_held(r[3], 'conv.weight') for r in ranks)
    assert conv0 == (0, 203) and conv1 == (203, 202)


def _exactness_table(results):
    """One row per optimizer and setting, one column per ZeRO stage."""
    rows = {}
    for (name, stage, extra), diff in results.items():
        rows.setdefault((name, extra), {})[stage] = f'{diff:.2g}'
    lines = [f'{"optimizer":<32} {"setting":<11} ' +
             ' '.join(f'{f"ZeRO-{stage}":>8}' for stage in (1, 2, 3))]
    for name, extra in sorted(rows, key=lambda k: (k[1] != '', k)):
        cells = rows[(name, extra)]
        lines.append(f'{name:<32} {extra or "-":<11} ' + ' '.join(
            f'{cells.get(stage, "-"):>8}' for stage in (1, 2, 3)))
    return '\n'.join(lines)


def test_zero_equals_unsharded(run_two_ranks, tmp_path):
    cases = [(name, stage, ()) for stage in (1, 2, 3) for name in CASES]
    # ZeRO-3 with several sub-groups per param group: each steps alone.
    split = (('zero', dict(sub_group_size=200)), )
    cases += [('SGD_GC', 3, split), ('Adam_GC2', 3, split)]
    # ZeRO-Offload: the optimizer steps on CPU partitions (a client
    # optimizer there needs zero_force_ds_cpu_optimizer=False).
    offload = (('zero', dict(offload_optimizer=dict(device='cpu'))),
               ('config', dict(zero_force_ds_cpu_optimizer=False)))
    cases += [('SGD_GC', 2, offload), ('Adam_GC2', 3, offload)]
    # Gradient clipping (by the global norm) comes before GC, as in
    # mmengine's OptimWrapper(clip_grad=...).
    clip = (('gradient_clipping', 0.05), )
    cases += [('SGD_GC', 2, clip), ('Adam_GC2', 3, clip)]
    results, layouts = run_two_ranks(_exactness_worker, cases,
                                     str(tmp_path), timeout=600)
    _check_cuts(layouts)
    table = _exactness_table(results)
    print('\n' + table)
    figures = os.environ.get('MMGC_FIGURES_DIR')
    if figures:
        # make docs-figures: the table the documentation includes.
        write_result_files(
            os.path.join(figures, 'deepspeed_exactness'),
            title=f'DeepSpeed ZeRO vs unsharded GC: largest difference over '
            f'all weights after {STEPS} steps, float32 masters, two gloo '
            'processes',
            table=table,
            data=[dict(optimizer=name, stage=stage, setting=extra,
                       max_abs_diff=diff)
                  for (name, stage, extra), diff in sorted(results.items())])
    bad = {case: d for case, d in results.items() if not d < 1e-6}
    assert not bad, f'GC under ZeRO differs from unsharded GC: {bad}'


def test_gc_matters_for_this_model():
    # The tolerances of the comparisons are far below what GC changes.
    torch.manual_seed(0)
    model = Net()
    start = {k: p.detach().clone() for k, p in model.named_parameters()}
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9,
                          weight_decay=1e-2)
    plain = train_on_average(model, opt, _loss, 2, STEPS)
    ref = _reference('SGD_GC', 2)
    assert max((plain[k] - ref[k]).abs().max().item() for k in ref) > 1e-3
    # Without GC the output-slice sums move by a good part of the weights'
    # movement (the mixed-precision test allows 2e-5).
    drift = max(((s - _slice_sums(start)[k]).abs() /
                 (plain[k] - start[k]).abs().sum(
                     dim=tuple(range(1, plain[k].dim())))).max().item()
                for k, s in _slice_sums(plain).items())
    assert drift > 1e-2


# --------------------------------------------------------------------------
# Checkpoints: save under ZeRO, resume in a new strategy, same continuation
# --------------------------------------------------------------------------
RESUME_CASES = (('Lookahead<GCRAdam>', 1), ('Lookahead<GCRAdam>', 2),
                ('Lookahead<GCRAdam>', 3), ('Adam_GC2', 2), ('SGD_GC', 3))


def _resume_worker(rank, world_size, port, tmp, out):
    _init(rank, world_size, port)
    with leaving_together():
        results = {}
        for name, stage in RESUME_CASES:
            path = os.path.join(tmp, f'zero{stage}_{name}', 'iter_2')
            strategy = _strategy(stage, tmp)
            engine, wrapper = _prepare(strategy, name)
            _train(engine, wrapper, rank, range(2))
            strategy.save_checkpoint(path)
            _train(engine, wrapper, rank, range(2, STEPS))
            straight = _full_fp32(engine)

            strategy = _strategy(stage, tmp)
            engine, wrapper = _prepare(strategy, name)
            strategy.resume(path)
            _train(engine, wrapper, rank, range(2, STEPS))
            resumed = _full_fp32(engine)
            results[(stage, name)] = max(
                (straight[k] - resumed[k]).abs().max().item()
                for k in straight)
        if rank == 0:
            out.put(results)


def test_resume_continues_exactly(run_two_ranks, tmp_path):
    results = run_two_ranks(_resume_worker, str(tmp_path), timeout=600)
    print('\nmax |resumed - uninterrupted| after 2 + 2 steps:')
    for (stage, name), diff in sorted(results.items()):
        print(f'  ZeRO-{stage} {name:20s} {diff:.3g}')
    assert all(d == 0 for d in results.values()), results


# --------------------------------------------------------------------------
# Mixed precision: GC on the fp32 master partitions, skipped steps skipped
# --------------------------------------------------------------------------
def _slice_sums(weights):
    return {
        k: v.double().sum(dim=tuple(range(1, v.dim())))
        for k, v in weights.items() if v.dim() > 1
    }


def _mixed_worker(rank, world_size, port, cases, tmp, out):
    """Per step: whether DeepSpeed applied it, how far the fp32 masters
    moved and how far their output-slice sums moved."""
    from deepspeed.accelerator import get_accelerator
    _init(rank, world_size, port)
    # DeepSpeed's CPU accelerator declares no fp16 support although torch
    # computes in fp16 on CPUs; lifted so that fp16 ZeRO (loss scaler,
    # overflow check, skipped steps) runs here as on a GPU.
    get_accelerator().is_fp16_supported = lambda: True
    with leaving_together():
        results = {}
        for name, stage, precision in cases:
            config = {precision: dict(enabled=True)}
            if precision == 'fp16':
                # A loss scale that overflows fp16 at first: the first steps
                # are skipped while the scaler comes down.
                config['fp16'].update(initial_scale_power=20, hysteresis=1)
            dtype = torch.float16 if precision == 'fp16' else torch.bfloat16
            engine, wrapper = _prepare(_strategy(stage, tmp, **config), name)
            steps = []
            before = _full_fp32(engine)
            for step in range(6):
                skipped = engine.skipped_steps
                _train(engine, wrapper, rank, [step], dtype)
                after = _full_fp32(engine)
                moved = max((after[k] - before[k]).abs().max().item()
                            for k in after)
                drift = max(((s - _slice_sums(before)[k]).abs().max() /
                             (after[k] - before[k]).abs().sum(
                                 dim=tuple(range(1, after[k].dim()))).max().
                             clamp(min=1e-30)).item()
                            for k, s in _slice_sums(after).items())
                steps.append((engine.skipped_steps == skipped, moved, drift))
                before = after
            results[(name, stage, precision)] = steps
        if rank == 0:
            out.put(results)


def test_mixed_precision_centralizes_fp32_masters(run_two_ranks, tmp_path):
    cases = [('SGD_GC', 2, 'fp16'), ('Adam_GC2', 3, 'fp16'),
             ('Adam_GC2', 1, 'bf16'), ('SGD_GC', 3, 'bf16')]
    results = run_two_ranks(_mixed_worker, cases, str(tmp_path), timeout=600)
    print('\nper step: applied, max |weight change|, max slice-sum change '
          '/ slice movement')
    for case, steps in sorted(results.items()):
        print(f'  {case}: ' + ', '.join(f'({a:d} {m:.2g} {d:.2g})'
                                        for a, m, d in steps))
    for (name, stage, precision), steps in results.items():
        applied = [(moved, drift) for a, moved, drift in steps if a]
        skipped = [(moved, drift) for a, moved, drift in steps if not a]
        # A step DeepSpeed skipped (fp16 overflow) changes nothing.
        assert all(moved == 0 for moved, _ in skipped), (name, steps)
        if precision == 'fp16':
            assert skipped and applied, steps
        # GC makes every update of a weight sum to zero over each output
        # slice (paper, Theorem 4.1), decay included: the fp32 masters keep
        # their slice sums to within float32 rounding of the movement.
        assert applied and all(moved > 1e-3 and drift < 2e-5
                               for moved, drift in applied), (name, steps)


# --------------------------------------------------------------------------
# What cannot be exact is refused, with what to do instead
# --------------------------------------------------------------------------
def _refusal_worker(rank, world_size, port, tmp, out):
    import deepspeed
    _init(rank, world_size, port)
    found = {}

    def attempt(case, run):
        try:
            run()
            found[case] = None
        except (RuntimeError, ValueError) as exc:
            found[case] = str(exc)

    def plain_deepspeed():  # no layout registered: the first step refuses
        from mmgc.optim import SGD_GC
        torch.manual_seed(0)
        model = Net()
        engine, *_ = deepspeed.initialize(
            model=model, optimizer=SGD_GC(model.parameters(), lr=0.1),
            config=dict(train_micro_batch_size_per_gpu=4,
                        zero_optimization=dict(stage=2),
                        zero_allow_untested_optimizer=True))
        engine.backward(_loss(engine, *batch(rank, 0)))
        engine.step()

    with leaving_together():
        attempt('adagrad', lambda: _prepare(_strategy(2, tmp),
                                            'GCWrapped<Adagrad>'))
        attempt('lookahead_split', lambda: _prepare(
            _strategy(3, tmp, zero=dict(sub_group_size=200)),
            'Lookahead<GCRAdam>'))
        attempt('stage0_bf16', lambda: _prepare(
            _strategy(0, tmp, bf16=dict(enabled=True)), 'SGD_GC'))
        attempt('ranger_update', lambda: _prepare(_strategy(2, tmp),
                                                  'Ranger'))
        attempt('plain_deepspeed', plain_deepspeed)
        if rank == 0:
            out.put(found)


def test_refusals_under_zero(run_two_ranks, tmp_path):
    found = run_two_ranks(_refusal_worker, str(tmp_path))
    assert "type='Adagrad_GC'" in found['adagrad']
    assert 'sub_group_size' in found['lookahead_split']
    assert 'stage=1' in found['stage0_bf16']
    assert "Lookahead(optimizer=dict(type='GCRAdam'" in found['ranger_update']
    assert "type='GCDeepSpeedStrategy'" in found['plain_deepspeed']


class NotMmgcAdam(torch.optim.Adam):
    """Stands for one of DeepSpeed's own optimizers (FusedAdam and
    DeepSpeedCPUAdam compile their ops when built)."""
    __module__ = 'deepspeed.ops.adam.fused_adam'


def test_deepspeed_optimizers_and_config_optimizer_refused(tmp_path):
    from mmgc.engine import GCOptimWrapperConstructor
    from mmgc.engine.deepspeed import register_deepspeed_optimizers
    assert {'FusedAdam', 'DeepSpeedCPUAdam'} <= set(
        register_deepspeed_optimizers())
    for name in ('FusedAdam', 'DeepSpeedCPUAdam'):
        with pytest.raises(ValueError, match="DeepSpeed's own optimizers"):
            GCOptimWrapperConstructor(
                dict(type='DeepSpeedOptimWrapper',
                     optimizer=dict(type=name, lr=1e-3)))(Net())
    strategy = _strategy(2, tmp_path)
    with pytest.raises(ValueError, match="DeepSpeed's own optimizers"):
        strategy.build_optim_wrapper(
            dict(optimizer=dict(type='Lookahead', k=2,
                                optimizer=dict(type=NotMmgcAdam, lr=1e-3)),
                 constructor='GCOptimWrapperConstructor'), Net())
    strategy = _strategy(2, tmp_path,
                         config=dict(optimizer=dict(type='Adam')))
    with pytest.raises(ValueError, match="Remove 'optimizer' from the Deep"):
        strategy.build_optim_wrapper(
            dict(optimizer=dict(type='SGD_GC', lr=0.1)), Net())
    # Without GC the strategy is mmengine's: DeepSpeed's optimizers are
    # its business.
    built = _strategy(2, tmp_path).build_optim_wrapper(
        dict(optimizer=dict(type=NotMmgcAdam, lr=1e-3)), Net())
    assert type(built).__name__ == 'DeepSpeedOptimWrapper'


def test_constructor_builds_for_deepspeed():
    from mmgc.engine import GCOptimWrapperConstructor
    wrapper = GCOptimWrapperConstructor(
        dict(type='DeepSpeedOptimWrapper',
             optimizer=dict(type='SGD', lr=0.1)))(Net())
    assert type(wrapper).__name__ == 'DeepSpeedOptimWrapper'
    assert type(wrapper.optimizer).__name__ == 'GCWrapped<SGD>'
