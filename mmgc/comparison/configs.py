"""What each run was trained with: resolved configs, flattened and compared.

A comparison is only as good as its two claims: each run folder holds a run
of the config it is said to hold, and the GC twin differs from the baseline
only in Gradient Centralization. Both are checked here on the resolved
configs (the file with ``--cfg-options`` merged, as ``tools/train.py`` sees
it), flattened to ``{dotted.key: value}`` so that they can be compared key by
key:

* :func:`check_cfg_options` refuses overrides of the seed, which comes from
  ``--seeds``;
* every run folder gets a record of its resolved config
  (:data:`RUN_RECORD`), written before it trains; :func:`check_run_folder`
  refuses to reuse or resume a folder trained with another config (a folder
  from before the record is checked by the ``--cfg-options`` of the command
  its ``train_output.log`` shows);
* :func:`twin_differences` lists what the twin changes besides GC;
* :func:`gc_use` tells whether a resolved config trains with GC, and
  :func:`check_gc_sides` refuses a pair whose GC side is not the second.

mmengine is imported when a config is loaded, and mmgc's optimizers (torch)
when :func:`gc_use` asks one, so the rest works without them.
"""
import argparse
import copy
import hashlib
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from mmgc.config_keys import (GC_OPTIMIZER_OPTIONS, flat_config, flatten,
                              is_gc_option)

#: The record of a compare-trained run, in its folder.
RUN_RECORD = 'compare_run.json'

#: Keys that name a run rather than change its training.
NAMING_KEYS = ('work_dir', 'experiment_name')
#: Keys tools/train.py sets itself before the Runner dumps the config; a
#: twin check on dumped configs leaves them out.
TRAIN_TOOL_KEYS = ('launcher', 'resume', 'model_wrapper_cfg')

# A paper optimizer (SGD_GC, Adam_GCC2, ...) or a GC one of torch's
# algorithms (GCSGD, GCAdamW, ...): the algorithm it adds GC to.
_GC_SUFFIX = re.compile(r'_GCC?2?$')
_GC_PREFIX = re.compile(r'^GC(?=[A-Z])')

#: Shown for a key one of two configs lacks.
ABSENT = '(absent)'
#: Shown for a --cfg-options key one of two commands did not give.
NOT_GIVEN = '(not given)'


def config_sha256(flat: Dict[str, object]) -> str:
    """An identifier of a resolved config: the hash of its sorted keys and
    values."""
    text = json.dumps(flat, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------
# --cfg-options
# --------------------------------------------------------------------------
def _option_key(option: str) -> str:
    return option.split('=', 1)[0].strip()


def check_cfg_options(cfg_options: Sequence[str]) -> None:
    """Refuse overrides of the seed: every run's seed comes from --seeds, and
    a seed in --cfg-options would give all of them the same one."""
    for option in cfg_options:
        key = _option_key(option)
        value = option.split('=', 1)[1] if '=' in option else ''
        # A whole randomness dict that names seed (not diff_rank_seed).
        if key == 'randomness.seed' or (key == 'randomness'
                                        and re.search(r'\bseed\b', value)):
            raise ValueError(
                f'--cfg-options {option} sets the seed, but each run of a '
                'comparison is trained with its own seed from --seeds (the '
                'same seeds for both configs, so that runs pair up by seed). '
                'Pass the seeds as --seeds instead, e.g. --seeds 0 1 2.')


def parse_cfg_options(cfg_options: Sequence[str]) -> dict:
    """``key=value`` strings as mmengine's DictAction (tools/train.py) reads
    them."""
    if not cfg_options:
        return {}
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser()
    parser.add_argument('--o', nargs='+', action=DictAction)
    return parser.parse_args(['--o', *cfg_options]).o


def load_resolved(config: Path, cfg_options: Sequence[str]):
    """The config as tools/train.py trains it: the file with the overrides
    merged (before the tool adds its launcher and work dir)."""
    import warnings

    # mmengine imports the deprecated pkg_resources; the warning is noise here.
    warnings.filterwarnings('ignore', message='pkg_resources is deprecated')
    from mmengine.config import Config
    cfg = Config.fromfile(str(config), import_custom_modules=False)
    if cfg_options:
        cfg.merge_from_dict(parse_cfg_options(cfg_options))
    return cfg


def with_seed(flat: Dict[str, object], seed: int) -> Dict[str, object]:
    """A flat config with ``randomness.seed`` set, as compare trains it."""
    return dict(flat, **{'randomness.seed': seed})


# --------------------------------------------------------------------------
# Differences
# --------------------------------------------------------------------------
def diff_configs(a: Dict[str, object], b: Dict[str, object],
                 ignore: Sequence[str] = NAMING_KEYS
                 ) -> List[Tuple[str, object, object]]:
    """(key, value in a, value in b) for every key whose value differs,
    sorted; ``ignore`` keys and everything below them are left out."""

    def ignored(key):
        return any(key == i or key.startswith(i + '.') for i in ignore)

    return [(key, a.get(key, ABSENT), b.get(key, ABSENT))
            for key in sorted(a.keys() | b.keys())
            if not ignored(key) and a.get(key, ABSENT) != b.get(key, ABSENT)]


def show_value(value) -> str:
    """A config value as it would be written in a config, a missing one as
    the marker it is."""
    return value if value in (ABSENT, NOT_GIVEN) else repr(value)


def format_differences(differences, limit: Optional[int] = 12) -> str:
    """``key: a -> b; ...``; past ``limit`` keys, how many more."""
    shown = differences if limit is None else differences[:limit]
    text = '; '.join(f'{key}: {show_value(a)} -> {show_value(b)}'
                     for key, a, b in shown)
    if len(differences) > len(shown):
        text += f'; and {len(differences) - len(shown)} more'
    return text


def gc_base_type(name: str) -> str:
    """The algorithm a GC optimizer name adds GC to (``SGD_GC`` -> ``SGD``,
    ``Adam_GCC2`` -> ``Adam``, ``GCAdamW`` -> ``AdamW``); other names are
    returned as they are."""
    return _GC_PREFIX.sub('', _GC_SUFFIX.sub('', name))


def _gc_imports_only(baseline, candidate) -> bool:
    """Both configs import the same modules apart from mmgc's."""

    def imports(flat):
        return {value for key, value in flat.items()
                if key.startswith('custom_imports.imports.')
                and not key.endswith('__len__')
                and not str(value).startswith('mmgc')}

    return imports(baseline) == imports(candidate)


def twin_differences(baseline: Dict[str, object],
                     candidate: Dict[str, object],
                     ignore: Sequence[str] = ()
                     ) -> List[Tuple[str, object, object]]:
    """What the GC twin changes besides GC: every differing key except the
    run's name, its seed, the optimizer's GC options and type (when the
    twin's type is the baseline's algorithm with GC), the constructor, the
    constructor's GC options, imports of mmgc, and ``ignore``."""
    found = []
    skipped = NAMING_KEYS + ('randomness.seed', ) + tuple(ignore)
    for key, a, b in diff_configs(baseline, candidate, skipped):
        if is_gc_option(key):
            continue
        if (key.startswith('optim_wrapper.optimizer.')
                and key.endswith('.type') and isinstance(a, str)
                and isinstance(b, str) and gc_base_type(b) == gc_base_type(a)):
            continue  # SGD -> SGD_GC, AdamW -> GCAdamW, ...
        if key.startswith('custom_imports.') and _gc_imports_only(
                baseline, candidate):
            continue
        found.append((key, a, b))
    return found


# --------------------------------------------------------------------------
# Which side applies GC
# --------------------------------------------------------------------------
@dataclass
class GCUse:
    """Whether a resolved config trains with GC, and what that rests on."""
    applies: Optional[bool]  # None: it cannot be told here
    how: str  # the optimizer, constructor and GC options, for messages


def _unflatten(flat: Dict[str, object], prefix: str):
    """The value below ``prefix`` of a flat config, dicts and lists rebuilt
    (for keys whose names hold no dots, as an optimizer's arguments)."""
    tree: dict = {}
    for key, value in flat.items():
        if key.startswith(prefix + '.'):
            *parents, leaf = key[len(prefix) + 1:].split('.')
            node = tree
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value

    def rebuild(node):
        if not isinstance(node, dict):
            return node
        if '__len__' in node:
            return [rebuild(node.get(str(i), {}))
                    for i in range(node['__len__'])]
        return {key: rebuild(inner) for key, inner in node.items()}

    return rebuild(tree)


def _custom_gc_options(flat: Dict[str, object]) -> Dict[str, dict]:
    """GC options of ``paramwise_cfg.custom_keys``, by parameter-name
    pattern (which may hold dots: ``'head.fc'``)."""
    prefix = 'optim_wrapper.paramwise_cfg.custom_keys.'
    found: Dict[str, dict] = {}
    for key, value in flat.items():
        if key.startswith(prefix):
            pattern, _, option = key[len(prefix):].rpartition('.')
            if option in GC_OPTIMIZER_OPTIONS:
                found.setdefault(pattern, {})[option] = value
    return found


def _probe_gc(optimizer_cfg: dict, constructor, defaults: dict,
              custom: Dict[str, dict]) -> bool:
    """Build the optimizer as the constructor would, with one tiny conv
    weight per param group the config can give (the default, and one per
    ``custom_keys`` entry with GC options), and ask it the placement
    protocol whether any group gets GC."""
    import warnings

    import torch
    from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIMIZERS

    import mmgc  # noqa: F401  (registers mmgc's optimizers and constructor)
    from mmgc.engine.optim_wrapper_constructor import (
        GCOptimWrapperConstructor, _params_argument)
    from mmgc.optim.gc_wrapped import gc_wrapped
    from mmgc.optim.lookahead import Lookahead
    from mmgc.optim.placement import applies_gc_itself, gc_placement_of

    if isinstance(constructor, str):
        with OPTIM_WRAPPER_CONSTRUCTORS.switch_scope_and_registry(
                None) as registry:
            constructor = registry.get(constructor)
    # Only mmgc's constructor reads paramwise GC defaults and adds GC to an
    # optimizer that has none; mmengine's copies custom_keys into groups.
    reads_gc = isinstance(constructor, type) and issubclass(
        constructor, GCOptimWrapperConstructor)
    resolve = GCOptimWrapperConstructor._resolve
    cfg = copy.deepcopy(optimizer_cfg)
    optimizer_cls = resolve(cfg['type'])
    target = cfg
    if (isinstance(optimizer_cls, type)
            and issubclass(optimizer_cls, Lookahead)
            and isinstance(cfg.get('optimizer'), dict)):
        target = cfg['optimizer']
    target_cls = resolve(target['type'])
    if reads_gc and not applies_gc_itself(target_cls):
        target['type'] = gc_wrapped(target_cls)
    base = dict(defaults) if reads_gc else {}
    groups = [base] + [dict(base, **options) for options in custom.values()]
    cfg[_params_argument(optimizer_cls)] = [
        dict(group, params=[torch.nn.Parameter(torch.zeros(2, 2, 1, 1))])
        for group in groups
    ]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # e.g. GC on no tensor of a group
        optimizer = OPTIMIZERS.build(cfg)
    return any(
        gc_placement_of(optimizer, group) is not None
        for group in optimizer.param_groups)


def gc_use(flat: Dict[str, object]) -> GCUse:
    """Whether the resolved config trains with GC: its optimizer, built here
    as its constructor would build it, says so through the placement
    protocol (``gc_placement``), as it does for every other part of mmgc.
    ``applies`` is None when the config names no optimizer or one that
    cannot be built here (a type from a package this process has not
    imported)."""
    optimizer = _unflatten(flat, 'optim_wrapper.optimizer')
    name = optimizer.get('type') if isinstance(optimizer, dict) else None
    constructor = flat.get('optim_wrapper.constructor')
    how = f'optimizer {show_value(name)}'
    if constructor is not None:
        how += f', constructor {show_value(constructor)}'
    options = [f'{key[len("optim_wrapper."):]}={show_value(value)}'
               for key, value in sorted(flat.items())
               if key.startswith('optim_wrapper.') and is_gc_option(key)
               and key != 'optim_wrapper.constructor']
    if options:
        how += ', ' + ', '.join(options)
    if not isinstance(name, str):
        return GCUse(None, 'no optim_wrapper.optimizer.type')
    defaults = {
        key: flat[f'optim_wrapper.paramwise_cfg.{key}']
        for key in GC_OPTIMIZER_OPTIONS
        if f'optim_wrapper.paramwise_cfg.{key}' in flat
    }
    try:
        applies = _probe_gc(optimizer, constructor, defaults,
                            _custom_gc_options(flat))
    except Exception as error:  # noqa: BLE001  (any failure: cannot tell)
        # KeyError's str() quotes its message; args[0] is the message.
        text = error.args[0] if error.args and isinstance(
            error.args[0], str) else repr(error)
        reason = (text.splitlines() or [repr(error)])[0]
        return GCUse(None, f'{how}; not buildable here: {reason}')
    return GCUse(applies, how)


def check_gc_sides(baseline: str, baseline_use: GCUse, candidate: str,
                   candidate_use: GCUse, names_given: bool = False) -> str:
    """Refuse (ValueError) a pair whose second side is not the only one that
    applies GC: given in the wrong order, the table would label the GC run
    "w/o GC" and read every change backwards. Two GC sides pass when
    ``names_given`` (comparing GC variants under the user's own labels).
    Returns a note for the table's files."""
    a, b = baseline_use.applies, candidate_use.applies
    a_text = f'{baseline} ({baseline_use.how})'
    b_text = f'{candidate} ({candidate_use.how})'
    if a is None or b is None:
        unknown = [text for text, known in ((a_text, a), (b_text, b))
                   if known is None]
        verb = 'applies' if len(unknown) == 1 else 'apply'
        return (f'whether {" and ".join(unknown)} {verb} GC is not known '
                'here, so the order of the sides is taken as given (baseline '
                'first, GC second)')
    if a and not b:
        raise ValueError(
            'The sides are in the wrong order: the first argument is the '
            'baseline (without GC) and the second the GC side, but the first, '
            f'{a_text}, applies GC and the second, {b_text}, does not. The '
            'table would label the GC run as the baseline and read every '
            'change backwards. Swap them: tools/compare.py '
            f'{candidate} {baseline} ...')
    if not a and not b:
        raise ValueError(
            f'Neither side applies GC: {a_text} and {b_text}. The second '
            'argument must be the GC twin: a config whose optimizer applies '
            "GC (SGD_GC, GCAdamW, ...) or that adds it with constructor="
            "'GCOptimWrapperConstructor'.")
    if a and b:
        if not names_given:
            raise ValueError(
                f'Both sides apply GC: {a_text} and {b_text}, so the default '
                'labels ("w/o GC", "w/ GC") would be wrong. To compare two GC '
                'variants, name the sides with --names, e.g. --names GC GCC; '
                'to compare GC with a baseline, give the config without GC '
                'first.')
        return (f'both sides apply GC: {a_text} and {b_text}; compared under '
                'the labels given by --names')
    return (f'{baseline} trains without GC ({baseline_use.how}), {candidate} '
            f'with GC ({candidate_use.how})')


# --------------------------------------------------------------------------
# Run folders
# --------------------------------------------------------------------------
def run_record(config: Path, cfg_options: Sequence[str], seed: int,
               gpus: int, flat: Dict[str, object]) -> dict:
    """What a run folder's record holds: the command's inputs and the
    resolved config they give."""
    return dict(config=str(config), cfg_options=list(cfg_options),
                seed=seed, gpus=gpus, config_sha256=config_sha256(flat),
                resolved_config=flat)


def write_run_record(run_dir: Path, record: dict) -> None:
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    (Path(run_dir) / RUN_RECORD).write_text(json.dumps(record, indent=1))


def _dumped_configs(run_dir: Path) -> List[Path]:
    """The configs mmengine dumped into a work dir (``<config name>.py``)."""
    return sorted(Path(run_dir).glob('*.py'))


@dataclass
class RecordedConfig:
    """What a run folder says it was trained with."""
    flat: Dict[str, object]  # the resolved config, flattened
    source: str  # the file it was read from
    gpus: Optional[int] = None  # processes per run, when recorded
    # Keys this source cannot tell (set by tools/train.py in a dump).
    unknown_keys: Tuple[str, ...] = ()
    # Read from mmengine's dump: with what tools/train.py added to the
    # config (hooks, launcher), which the config file itself lacks.
    dumped: bool = False


def recorded_config(run_dir: Path) -> Optional[RecordedConfig]:
    """The resolved config of a run folder: its record, else the config
    mmengine dumped into it; None when the folder holds neither."""
    run_dir = Path(run_dir)
    record_file = run_dir / RUN_RECORD
    if record_file.is_file():
        record = json.loads(record_file.read_text())
        return RecordedConfig(record['resolved_config'], str(record_file),
                              record.get('gpus'))
    dumps = _dumped_configs(run_dir)
    if len(dumps) != 1:
        return None
    try:
        flat = flat_config(load_resolved(dumps[0], []))
    except Exception:  # a dump mmengine cannot read back tells nothing
        return None
    unknown = TRAIN_TOOL_KEYS
    if flat.get('resume'):
        unknown += ('load_from', )  # tools/train.py --resume clears it
    return RecordedConfig(flat, str(dumps[0]), unknown_keys=unknown,
                          dumped=True)


def recorded_seed(run_dir: Path) -> Optional[int]:
    """``randomness.seed`` of what a run folder says it was trained with:
    its record, else mmengine's dumped config (read as text, no mmengine
    needed); None when neither tells."""
    record_file = Path(run_dir) / RUN_RECORD
    if record_file.is_file():
        seed = json.loads(record_file.read_text()).get(
            'resolved_config', {}).get('randomness.seed')
        return seed if isinstance(seed, int) else None
    for dumped in _dumped_configs(Path(run_dir)):
        found = re.search(r'randomness\s*=\s*dict\([^)]*seed\s*=\s*(\d+)',
                          dumped.read_text(errors='replace'))
        if found:
            return int(found.group(1))
    return None


def has_trained(run_dir: Path) -> bool:
    """A folder a training run has written into (a record, a checkpoint or
    the config mmengine dumps when it starts), as opposed to an empty or
    missing one."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return False
    return (run_dir / RUN_RECORD).is_file() or (
        run_dir / 'last_checkpoint').is_file() or any(
            run_dir.glob('*.pth')) or bool(_dumped_configs(run_dir))


def logged_command(run_dir: Path) -> Optional[Tuple[List[str], int]]:
    """(--cfg-options without the seed, processes) of the first training
    command an earlier compare logged in the folder's ``train_output.log``;
    None without one."""
    log_file = Path(run_dir) / 'train_output.log'
    if not log_file.is_file():
        return None
    with open(log_file, errors='replace') as lines:
        command = next((line[2:] for line in lines if line.startswith('$ ')),
                       None)
    if command is None:
        return None
    words = shlex.split(command)
    gpus = next((int(w.split('=', 1)[1]) for w in words
                 if w.startswith('--nproc_per_node=')), 1)
    options = []
    if '--cfg-options' in words:
        for word in words[words.index('--cfg-options') + 1:]:
            if word.startswith('--'):
                break
            if _option_key(word) != 'randomness.seed':
                options.append(word)
    return options, gpus


def _option_differences(before: Sequence[str], now: Sequence[str]):
    shown = {ABSENT: NOT_GIVEN}
    return [(f'--cfg-options {key}', shown.get(a, a), shown.get(b, b))
            for key, a, b in diff_configs(
                flatten(parse_cfg_options(before)),
                flatten(parse_cfg_options(now)), ignore=())]


def folder_mismatch(run_dir: Path, flat: Dict[str, object], gpus: int,
                    cfg_options: Sequence[str] = ()) -> Optional[str]:
    """How the run in ``run_dir`` was trained differently from ``flat`` (and
    ``gpus`` processes), as ``'<run_dir>: key: a -> b; ... (recorded in
    <file>)'``; None when it was not, or when the folder tells nothing.

    A folder without a record (trained before compare kept one) is checked
    by the command its ``train_output.log`` shows: its ``--cfg-options``
    against ``cfg_options``. The config mmengine dumped cannot serve: it
    holds what tools/train.py adds on top of the config (hooks, launcher).
    """
    run_dir = Path(run_dir)
    if not has_trained(run_dir):
        return None
    if (run_dir / RUN_RECORD).is_file():
        trained = recorded_config(run_dir)
        differences = diff_configs(trained.flat, flat)
        if trained.gpus is not None and trained.gpus != gpus:
            differences.append(('--gpus', trained.gpus, gpus))
        source = f'recorded in {trained.source}'
    else:
        logged = logged_command(run_dir)
        if logged is None:
            return None
        options, trained_gpus = logged
        differences = _option_differences(options, cfg_options)
        if trained_gpus != gpus:
            differences.append(('--gpus', trained_gpus, gpus))
        source = (f'from the command in {run_dir / "train_output.log"}; '
                  'the folder has no record of the config itself')
    if not differences:
        return None
    return f'{run_dir}: {format_differences(differences)} ({source})'


def refuse_mismatched_folders(mismatches: Sequence[str]) -> None:
    """One error for every run folder trained with another config."""
    if mismatches:
        raise ValueError(
            'These run folders hold runs trained with another config than '
            'the one planned for them (trained -> now):\n  ' +
            '\n  '.join(mismatches) + '\ncompare would reuse or resume '
            'them as if they were this config. Use another --work-dir for '
            'this configuration, or delete these folders to train them '
            'again.')


def check_run_folder(run_dir: Path, flat: Dict[str, object], gpus: int,
                     cfg_options: Sequence[str] = ()) -> None:
    """Refuse to reuse or resume ``run_dir`` when the run in it was trained
    with another resolved config (or another number of processes) than
    ``flat``; a folder that tells nothing is left to train as before."""
    mismatch = folder_mismatch(run_dir, flat, gpus, cfg_options)
    refuse_mismatched_folders([mismatch] if mismatch else [])
