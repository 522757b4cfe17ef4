"""GC beyond the paper's detectors: the RTMDet and DINO configs.

Every pair loads, its GC twin passes compare's strict twin check and keeps
the parent's paramwise_cfg and clipping, every model and both optimizers
build, the GC coverage is what docs/en/detection.md says, and each toy
config trains a few iterations through tools/train.py.
"""
import re
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

import mmgc  # noqa: F401
from _config_diff import flatten
from _det_utils import (PYTHON, REPO_ROOT, TINY_TOY_COCO, data_root_options,
                        run_tool, tiny_schedule_options)
from mmgc.comparison.configs import flat_config, twin_differences
from mmgc.optim.gc_coverage import (SKIP_FROZEN, SKIP_GC_OFF, SKIP_ONE_D,
                                     gc_coverage)

pytestmark = [pytest.mark.detection]

TOY_DATA = TINY_TOY_COCO  # what the toy_root fixture writes (conftest.py)

CONFIGS = REPO_ROOT / 'configs'
# (baseline, GC twin, mmdet's config the COCO baseline is, or None for the
# toy variants); every twin centralizes AdamW's update but the one named
# gc-gradient.
PAIRS = [
    ('rtmdet/rtmdet_tiny_8xb32-300e_coco.py',
     'rtmdet/rtmdet_tiny_gc_8xb32-300e_coco.py',
     'rtmdet/rtmdet_tiny_8xb32-300e_coco.py'),
    ('rtmdet/rtmdet_l_8xb32-300e_coco.py',
     'rtmdet/rtmdet_l_gc_8xb32-300e_coco.py',
     'rtmdet/rtmdet_l_8xb32-300e_coco.py'),
    ('dino/dino-4scale_r50_8xb2-12e_coco.py',
     'dino/dino-4scale_r50_gc_8xb2-12e_coco.py',
     'dino/dino-4scale_r50_8xb2-12e_coco.py'),
    ('toy/rtmdet_toy-tiny_1xb8-24e_toycoco.py',
     'toy/rtmdet_toy-tiny_gc_1xb8-24e_toycoco.py', None),
    ('digits/rtmdet_toy-tiny_1xb8-24e_digitcoco.py',
     'digits/rtmdet_toy-tiny_gc_1xb8-24e_digitcoco.py', None),
    ('toy/dino-4scale_toy-r18_1xb8-12e_toycoco.py',
     'toy/dino-4scale_toy-r18_gc_1xb8-12e_toycoco.py', None),
    ('toy/rtmdet_toy-tiny_1xb8-24e_toycoco.py',
     'toy/rtmdet_toy-tiny_gc-gradient_1xb8-24e_toycoco.py', None),
]
PAIR_IDS = [Path(t).stem for _, t, _ in PAIRS]


def _gc_loc(twin: str) -> str:
    return 'gradient' if 'gc-gradient' in twin else 'update'
DINO_GC_CONFIGS = ['dino/dino-4scale_r50_gc_8xb2-12e_coco.py',
                   'toy/dino-4scale_toy-r18_gc_1xb8-12e_toycoco.py']


def load(relative: str) -> Config:
    return Config.fromfile(str(CONFIGS / relative))


def _mmdet_config(relative: str) -> Config:
    import mmdet
    return Config.fromfile(
        str(Path(mmdet.__file__).parent / '.mim/configs' / relative))


def _build_model(cfg: Config):
    from mmdet.registry import MODELS
    init_default_scope('mmdet')
    # Nothing is downloaded: the COCO configs keep mmdet's ImageNet init.
    cfg.model.backbone.init_cfg = None
    return MODELS.build(cfg.model)


@pytest.mark.fast
@pytest.mark.parametrize('baseline, twin, mmdets', PAIRS, ids=PAIR_IDS)
def test_twin_changes_only_gc_and_keeps_the_parents_paramwise_cfg(
        baseline, twin, mmdets):
    base_cfg, gc_cfg = load(baseline), load(twin)
    assert base_cfg.custom_imports == dict(imports=['mmgc'],
                                           allow_failed_imports=False)
    assert base_cfg.optim_wrapper.optimizer.type == 'AdamW'
    assert gc_cfg.optim_wrapper.optimizer.type == 'GCAdamW'
    assert gc_cfg.optim_wrapper.optimizer.gc_loc == _gc_loc(twin)
    assert gc_cfg.optim_wrapper.constructor == 'GCOptimWrapperConstructor'
    # tools/compare.py --strict-twin passes.
    assert twin_differences(flat_config(base_cfg), flat_config(gc_cfg)) == []
    # Every paramwise option and the clipping of the parent are kept.
    base_flat = flatten(base_cfg.optim_wrapper.to_dict())
    gc_flat = flatten(gc_cfg.optim_wrapper.to_dict())
    kept = {k: v for k, v in base_flat.items()
            if k.startswith(('paramwise_cfg', 'clip_grad'))}
    assert kept, 'the parent has a paramwise_cfg to keep'
    assert {k: gc_flat.get(k) for k in kept} == kept
    if mmdets is not None:
        # The COCO baseline is mmdet's config plus the import of mmgc.
        theirs = flatten(_mmdet_config(mmdets).to_dict())
        ours = flatten(base_cfg.to_dict())
        changed = {
            key for key in ours.keys() | theirs.keys()
            if ours.get(key) != theirs.get(key)
            and not key.endswith('_scope_')
        }
        assert changed and all(k.startswith('custom_imports')
                               for k in changed), sorted(changed)


@pytest.mark.fast
@pytest.mark.parametrize('baseline, twin, mmdets', PAIRS, ids=PAIR_IDS)
def test_model_and_both_optimizers_build_with_the_same_groups(
        baseline, twin, mmdets):
    model = _build_model(load(baseline))
    wrappers = [build_optim_wrapper(model, load(path).optim_wrapper)
                for path in (baseline, twin)]
    plain, gc = (w.optimizer for w in wrappers)
    assert (type(plain).__name__, type(gc).__name__) == ('AdamW', 'GCAdamW')
    # The same parameters with the same lr and decay on both sides: GC is
    # the only change, and the custom_keys that switch it off set nothing
    # else.
    hyper = [[(id(g['params'][0]), g['lr'], g['weight_decay'])
              for g in o.param_groups] for o in (plain, gc)]
    assert hyper[0] == hyper[1]
    assert wrappers[0].clip_grad_kwargs == wrappers[1].clip_grad_kwargs
    centralized = [c for c in gc_coverage(gc) if c.skipped is None]
    assert centralized and all(
        c.placement.on_update == (_gc_loc(twin) == 'update')
        for c in centralized)
    assert not [c for c in gc_coverage(plain) if c.skipped is None]


@pytest.mark.fast
@pytest.mark.parametrize('twin', [
    'rtmdet/rtmdet_tiny_gc_8xb32-300e_coco.py',
    'toy/rtmdet_toy-tiny_gc_1xb8-24e_toycoco.py'
])
def test_rtmdet_gc_centralizes_every_conv_and_keeps_mmdets_decay_rules(twin):
    cfg = load(twin)
    model = _build_model(cfg)
    optimizer = build_optim_wrapper(model, cfg.optim_wrapper).optimizer
    names = {id(p): n for n, p in model.named_parameters()}
    coverage = {names[id(c.param)]: c for c in gc_coverage(optimizer)}
    convs = [n for n, c in coverage.items() if len(c.shape) == 4]
    # RTMDet is all convs: each is centralized, everything else is a norm
    # weight or a bias (the head's shared convs are in the optimizer once,
    # bypass_duplicate).
    assert len(convs) > 50
    assert [n for n in convs if coverage[n].skipped is not None] == []
    assert {c.skipped for n, c in coverage.items()
            if n not in convs} == {SKIP_ONE_D}
    decay = {names[id(g['params'][0])]: g['weight_decay']
             for g in optimizer.param_groups}
    assert decay['backbone.stem.0.conv.weight'] == 0.05
    assert decay['backbone.stem.0.bn.weight'] == 0
    assert decay['bbox_head.rtm_cls.0.bias'] == 0


@pytest.mark.fast
@pytest.mark.parametrize('twin', DINO_GC_CONFIGS)
def test_dino_gc_centralizes_attention_and_ffn_and_leaves_out_the_rest(
        twin):
    cfg = load(twin)
    model = _build_model(cfg)
    optimizer = build_optim_wrapper(model, cfg.optim_wrapper).optimizer
    names = {id(p): n for n, p in model.named_parameters()}
    why = {names[id(c.param)]: c.skipped for c in gc_coverage(optimizer)}

    def matching(pattern):
        found = [n for n in why if re.search(pattern, n)]
        assert found, pattern
        return found

    centralized = [
        # decoder self-attention: q, k, v in one tensor, and its output
        r'decoder\.layers\.\d+\.self_attn\.attn\.in_proj_weight$',
        r'decoder\.layers\.\d+\.self_attn\.attn\.out_proj\.weight$',
        # deformable attention (encoder, decoder cross-attention)
        r'\.(self|cross)_attn\.value_proj\.weight$',
        r'\.(self|cross)_attn\.output_proj\.weight$',
        r'\.(self|cross)_attn\.attention_weights\.weight$',
        r'\.ffn\.layers\.0\.0\.weight$', r'\.ffn\.layers\.1\.weight$',
        r'^bbox_head\.(cls|reg)_branches\.', r'^memory_trans_fc\.weight$',
        r'^neck\.convs\.\d+\.conv\.weight$',
        # stage 1 of the COCO backbone is frozen
        r'^backbone\.layer[234]\..*conv\d\.weight$',
    ]
    for pattern in centralized:
        for name in matching(pattern):
            if not name.endswith('.bias'):
                assert why[name] is None, (name, why[name])
    left_out = [r'^query_embedding\.weight$',
                r'^dn_query_generator\.label_embedding\.weight$',
                r'^level_embed$', r'sampling_offsets\.weight$']
    for pattern in left_out:
        for name in matching(pattern):
            assert why[name] == SKIP_GC_OFF, (name, why[name])
    for name in matching(r'norm.*\.weight$'):
        assert why[name] == SKIP_ONE_D
    # Nothing two-dimensional outside the documented list escapes GC (the
    # frozen stem and stage 1 are in the optimizer with mmengine < 0.10).
    escaped = {n for n, reason in why.items()
               if reason not in (None, SKIP_ONE_D, SKIP_FROZEN)}
    assert escaped == {n for p in left_out for n in matching(p)}


# --------------------------------------------------------------------------
# A few iterations of each toy config through tools/train.py
# --------------------------------------------------------------------------
@pytest.mark.parametrize('twin, data', [
    pytest.param('toy/rtmdet_toy-tiny_gc_1xb8-24e_toycoco.py', 'toy_root',
                 id='rtmdet-toy'),
    # The digit set is drawn from the [digits] extra's MNIST digits.
    pytest.param('digits/rtmdet_toy-tiny_gc_1xb8-24e_digitcoco.py',
                 'digits_root', id='rtmdet-digits',
                 marks=pytest.mark.digits),
    pytest.param('toy/dino-4scale_toy-r18_gc_1xb8-12e_toycoco.py', 'toy_root',
                 id='dino-toy'),
])
def test_toy_gc_config_trains_through_the_train_tool(twin, data, request,
                                                    tmp_path):
    root = request.getfixturevalue(data)
    work_dir = tmp_path / 'work'
    run_tool([
        PYTHON, 'tools/train.py', CONFIGS / twin, '--work-dir', work_dir,
        '--cfg-options', *data_root_options(root),
        *tiny_schedule_options(max_epochs=1), 'train_cfg.val_interval=1'
    ])
    log = next(work_dir.glob('*/*.log')).read_text()
    assert re.search(r'GC: \d+ of \d+ parameter tensors are centralized '
                     r'by GCAdamW', log)
    losses = [float(v) for v in re.findall(r'\bloss: ([0-9.naif]+)', log)]
    assert losses and all(0 < v < 1e3 for v in losses), losses
    # Validated with the COCO metric (after two iterations an untrained
    # model may have no box above the score threshold: no AP then).
    assert re.search(r'Epoch\(val\)\s+\[1\]\[\d+/\d+\]', log)
    assert (work_dir / 'epoch_1.pth').is_file()


@pytest.mark.fast
@pytest.mark.parametrize('twin', [
    'dino/dino-4scale_r50_gc_8xb2-12e_coco.py',
    'rtmdet/rtmdet_tiny_gc_8xb32-300e_coco.py',
])
def test_detection_page_shows_the_constructors_own_summary_line(twin):
    """The page's summary lines are what the constructor logs for these
    configs (with mmengine >= 0.10, which leaves frozen parameters out of
    the optimizer), not text kept up to date by hand."""
    import logging

    import mmengine
    from mmengine.logging import MMLogger
    from mmengine.utils import digit_version
    if digit_version(mmengine.__version__) < digit_version('0.10.0'):
        pytest.skip(f'mmengine {mmengine.__version__} keeps frozen '
                    'parameters in the optimizer (left out from 0.10), so '
                    'its summary counts differ from the page')
    cfg = load(twin)
    model = _build_model(cfg)
    messages = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        build_optim_wrapper(model, cfg.optim_wrapper)
    finally:
        logger.removeHandler(handler)
    logged = [m for m in messages if m.startswith('GC: ')]
    assert len(logged) == 1, messages
    page = (REPO_ROOT / 'docs/en/detection.md').read_text()
    shown = re.search(rf'For\s+`{re.escape(twin)}`:\s+```text\n(.*?)```',
                      page, re.S)
    assert shown, f'docs/en/detection.md shows no summary line for {twin}'
    assert ' '.join(shown.group(1).split()) == logged[0]
