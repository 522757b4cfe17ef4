"""Test mmgc in the OpenMMLab environments its users have: the support matrix.

Each entry of the matrix is one virtual environment, built from a Python
the machine has (pyenv's, or ``PYTHON_3_10=/path/to/python3.10``), holding
the stack a user would have *before* adding mmgc. The runner then

1. records ``pip freeze``, installs the checkout with a plain
   ``pip install .[extras]`` (as a user would) and checks that this changed
   nothing but mmgc itself;
2. runs the test lanes the entry supports against the installed package:
   the lanes are pytest markers (pyproject.toml), each entry selects them
   with a marker expression (``pytest -m``);
3. prints one table: entry, install ok, tests passed/failed/skipped, and
   writes it with the skip reasons and failures to
   docs/en/_generated/support_matrix.md (included by the documentation)
   (and .json, which later runs of other entries update, not replace).

Usage::

    python tools/compat_matrix.py                 # every entry
    python tools/compat_matrix.py --entries py38-torch2.0 py310-torch2.1
    python tools/compat_matrix.py --list

Environments are kept in ``.compat/<entry>`` (``--envs-dir``) and reused;
``--fresh`` rebuilds them; ``--remove-envs`` deletes each one once its lanes
have run (CI: every environment holds a CUDA build of torch of about 5 GB, so
only one is on disk at a time). With ``--remove-envs``, an entry that
``extends`` another (the same Python and torch, more packages) and runs with
it continues in that entry's environment once its lanes have run: torch is
installed once, and the environment is removed after both. The full lane
builds mmcv's compiled ops against its torch once per machine
(``tools/build_mmcv.sh``, cached like the development wheel). Exit status: 0
when every entry installed cleanly and every lane passed.
"""
import argparse
import collections
import datetime
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from typing import Dict, List, NamedTuple, Optional, Tuple

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, 'docs', 'en', '_generated',
                       'support_matrix')  # .md and .json

#: The lanes that need nothing but torch and mmengine: every lane but those
#: named after what they need besides (pyproject.toml, pytest markers).
TORCH_AND_MMENGINE_LANES = ('not (detection or reid or classification or '
                            'digits or deepspeed)')
#: The extras the matrix does not install (their packages would change the
#: user's stack); their lanes run in the development environment only.
DEV_ONLY_LANES = ('digits', 'deepspeed')


class Entry(NamedTuple):
    name: str
    python: str  # 'X.Y'
    #: the user's stack, installed before mmgc (pip requirement strings)
    stack: Tuple[str, ...]
    #: mmcv version to build with compiled ops against the entry's torch
    mmcv: Optional[str]
    extras: str
    #: the lanes it runs: a pytest marker expression ('' for every lane)
    tests: str
    #: a toy Faster R-CNN SGD vs SGD_GC comparison through tools/compare.py
    #: (one epoch: TOY_COMPARE_OPTIONS)
    toy_compare: bool
    note: str
    #: an entry with the same Python and torch whose environment this one
    #: may continue from: with --remove-envs, when both run, this one runs
    #: after it and installs its own stack into that environment (its
    #: mmengine over the other's), so torch is installed once
    extends: Optional[str] = None


MATRIX: List[Entry] = [
    Entry('py38-torch2.0', '3.8',
          ('torch==2.0.1', 'numpy==1.24.4', 'mmengine==0.7.1',
           # mmengine < 0.10.2 calls yapf's FormatCode(verify=...), removed
           # in yapf 0.40.2
           'yapf==0.40.1'),
          None, '', TORCH_AND_MMENGINE_LANES, False,
          'floors: Python 3.8, torch 2.0, numpy 1.24, mmengine 0.7.1'),
    Entry('py310-torch2.1', '3.10',
          ('torch==2.1.2', 'numpy==1.26.4', 'mmengine==0.10.3'),
          None, '', TORCH_AND_MMENGINE_LANES, False,
          'the torch of most mmdet 3.3 installations'),
    Entry('py38-torch2.0-mmdet3.0', '3.8',
          ('torch==2.0.1', 'torchvision==0.15.2', 'numpy==1.24.4',
           'mmengine==0.8.0', 'yapf==0.40.1', 'mmdet==3.0.0',
           'mmpretrain==1.0.0', 'pycocotools', 'matplotlib'),
          '2.0.1', '[detection,classification]',
          'not (reid or digits or deepspeed)', True,
          'floors of the full lane: mmdet 3.0.0, mmcv 2.0.1, mmpretrain 1.0.0 '
          '(it needs mmengine 0.8); no ReID lane: mmdet 3.0 has no ReID '
          'models', extends='py38-torch2.0'),
    Entry('py310-torch2.1-mmdet3.3', '3.10',
          ('torch==2.1.2', 'torchvision==0.16.2', 'numpy==1.26.4',
           'mmengine==0.10.3', 'mmdet==3.3.0', 'mmpretrain==1.2.0',
           'pycocotools', 'matplotlib'),
          '2.1.0', '[detection,reid,classification]',
          'not (digits or deepspeed)', True,
          'full lane: mmcv 2.1.0 built against torch 2.1.2'),
    Entry('py312-torch2.14', '3.12',
          ('torch==2.14.1', 'numpy>=2', 'mmengine==0.10.7',
           'setuptools<81'),
          None, '', TORCH_AND_MMENGINE_LANES, False,
          'ceilings: Python 3.12, torch 2.14, numpy 2'),
]

TEST_TOOLS = ('pytest>=7', 'pytest-timeout')
#: In an environment: the name of the last entry whose stack went into it.
ENV_MARK = 'mmgc-compat-entry'


def log(message: str) -> None:
    print(f'[compat] {message}', flush=True)


def find_python(version: str) -> str:
    """The interpreter for ``version``: $PYTHON_X_Y, then pyenv's newest
    X.Y.*, then pythonX.Y on PATH."""
    override = os.environ.get('PYTHON_' + version.replace('.', '_'))
    if override:
        return override
    roots = [os.environ.get('PYENV_ROOT', ''),
             os.path.expanduser('~/.pyenv')]
    for root in filter(None, roots):
        found = sorted(
            glob.glob(os.path.join(root, 'versions', f'{version}.*', 'bin',
                                   'python')),
            key=lambda p: [int(x) for x in p.split('/versions/')[1].split('/')
                           [0].split('.') if x.isdigit()])
        if found:
            return found[-1]
    on_path = shutil.which(f'python{version}')
    if on_path:
        return on_path
    raise FileNotFoundError(
        f'no Python {version} found: install it (pyenv install {version}) or '
        f'set PYTHON_{version.replace(".", "_")}=/path/to/python{version}')


def run(cmd: List[str], log_file, env=None, cwd=REPO) -> int:
    log_file.write(f'\n$ {" ".join(cmd)}\n')
    log_file.flush()
    return subprocess.call(cmd, stdout=log_file, stderr=subprocess.STDOUT,
                           env=env, cwd=cwd)


def freeze(python: str) -> Dict[str, str]:
    out = subprocess.check_output(
        [python, '-m', 'pip', 'freeze', '--disable-pip-version-check'],
        text=True)
    packages = {}
    for line in out.splitlines():
        if '==' in line:
            name, version = line.split('==', 1)
        elif ' @ ' in line:
            name, version = line.split(' @ ', 1)
        else:
            continue
        packages[name.lower().replace('_', '-')] = version
    return packages


def changed_packages(before: Dict[str, str],
                     after: Dict[str, str]) -> List[str]:
    """What installing mmgc changed, besides adding mmgc."""
    changes = []
    for name in sorted(set(before) | set(after)):
        if name == 'mmgc':
            continue
        if before.get(name) != after.get(name):
            changes.append(f'{name} {before.get(name, "-")} -> '
                           f'{after.get(name, "-")}')
    return changes


class LaneOutcome(NamedTuple):
    passed: int
    failed: int  # failures and errors
    skipped: int
    #: skip message -> number of tests skipped with it
    skip_reasons: Dict[str, int]
    #: ids of the failed tests
    failures: List[str]


class Result(NamedTuple):
    entry: str
    versions: str
    install: str
    tests: str  # the marker expression
    outcome: LaneOutcome
    toy: str
    minutes: float
    date: str
    commit: str


def junit_outcome(path: str) -> LaneOutcome:
    """Counts, skip reasons and failed tests of a pytest junit xml file."""
    if not os.path.exists(path):
        return LaneOutcome(0, 1, 0, {},
                           ['pytest wrote no report: see the log'])
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == 'testsuite' else list(root)
    tests = failed = skipped = 0
    for suite in suites:
        tests += int(suite.get('tests', 0))
        failed += int(suite.get('failures', 0)) + int(suite.get('errors', 0))
        skipped += int(suite.get('skipped', 0))
    reasons = collections.Counter()
    failures = []
    for case in root.iter('testcase'):
        test_id = f'{case.get("classname")}::{case.get("name")}'
        for child in case:
            if child.tag == 'skipped':
                reason = child.get('message', '').strip()
                # A module skipped whole: the reason is in the details,
                # "('<file>', <line>, 'Skipped: <reason>')".
                whole = re.search(r"'Skipped: (.*)'\)$", child.text or '')
                if reason == 'collection skipped' and whole:
                    reason = f'{case.get("name")}: {whole.group(1)}'
                reasons[reason] += 1
            elif child.tag in ('failure', 'error'):
                failures.append(test_id)
    return LaneOutcome(tests - failed - skipped, failed, skipped,
                       dict(reasons.most_common()), failures)


def checkout_commit() -> str:
    """The commit the tests ran from, with '+ uncommitted changes' when the
    checkout had some (the results files this tool writes do not count)."""
    try:
        commit = subprocess.check_output(
            ['git', 'rev-parse', '--short', 'HEAD'], cwd=REPO, text=True,
            stderr=subprocess.DEVNULL).strip()
        changed = subprocess.check_output(
            ['git', 'status', '--porcelain', '--untracked-files=no'],
            cwd=REPO, text=True, stderr=subprocess.DEVNULL).splitlines()
    except (OSError, subprocess.CalledProcessError):
        return '?'
    own = {os.path.relpath(RESULTS + suffix, REPO)
           for suffix in ('.md', '.json')}
    if any(line[3:] not in own for line in changed):
        commit += ' + uncommitted changes'
    return commit


def stack_versions(python: str) -> str:
    code = ('import sys, importlib\n'
            'out = ["py%d.%d" % sys.version_info[:2]]\n'
            'for m in ("torch", "numpy", "mmengine", "mmcv", "mmdet", '
            '"mmpretrain"):\n'
            '    try:\n'
            '        out.append(m + " " + '
            'importlib.import_module(m).__version__.split("+")[0])\n'
            '    except Exception:\n'
            '        pass\n'
            'print(", ".join(out))\n')
    try:
        return subprocess.check_output([python, '-c', code], text=True,
                                       stderr=subprocess.DEVNULL).strip()
    except subprocess.CalledProcessError:
        return '?'


def env_mark(env_dir: str) -> Optional[str]:
    """The entry whose stack went into the environment last (None: no
    environment, or one this tool built before it marked them)."""
    try:
        with open(os.path.join(env_dir, ENV_MARK)) as f:
            return f.read().strip() or None
    except OSError:
        return None


def must_rebuild(env_dir: str, name: str, fresh: bool,
                 continues: Optional[str] = None) -> bool:
    """Whether entry ``name`` deletes the environment in ``env_dir`` before
    installing into it: with --fresh (unless it continues the environment
    of ``continues``, just built), and when an entry other than the one it
    expects installed into it last (that one's packages are not its user's
    stack)."""
    if not os.path.isdir(env_dir):
        return False
    if fresh and continues is None:
        return True
    return env_mark(env_dir) not in (None, continues or name)


def build_entry(entry: Entry, env_dir: str, log_file, fresh: bool,
                continues: Optional[str] = None) -> str:
    """Create the entry's environment with the user's stack; returns the
    venv's python. ``continues``: the entry whose environment ``env_dir``
    is, just tested; this entry installs its stack over that one's."""
    python = os.path.join(env_dir, 'bin', 'python')
    if must_rebuild(env_dir, entry.name, fresh, continues):
        shutil.rmtree(env_dir)
    if not os.path.exists(python):
        base = find_python(entry.python)
        if run([base, '-m', 'venv', env_dir], log_file) != 0:
            raise RuntimeError(f'creating the venv with {base} failed')
    # Marked before anything is installed: a partial install is this
    # entry's too.
    with open(os.path.join(env_dir, ENV_MARK), 'w') as f:
        f.write(entry.name + '\n')
    pip = [python, '-m', 'pip', '--disable-pip-version-check', 'install',
           '-q']
    if run(pip + ['--upgrade', 'pip'], log_file) != 0:
        raise RuntimeError('upgrading pip failed')
    # torch and mmengine first: mmcv is built against that torch and
    # imports mmengine; the rest must keep them.
    torch_pins = [s for s in entry.stack
                  if s.startswith(('torch', 'numpy', 'mmengine', 'yapf'))]
    if run(pip + torch_pins + list(TEST_TOOLS), log_file) != 0:
        raise RuntimeError(f'installing {" ".join(torch_pins)} failed')
    if entry.mmcv:
        build = os.path.join(REPO, 'tools', 'build_mmcv.sh')
        if run(['bash', build, python, entry.mmcv], log_file) != 0:
            raise RuntimeError(f'building mmcv {entry.mmcv} failed')
    rest = [s for s in entry.stack if s not in torch_pins]
    if rest and run(pip + rest + torch_pins, log_file) != 0:
        raise RuntimeError(f'installing {" ".join(rest)} failed')
    return python


def install_mmgc(python: str, entry: Entry, log_file) -> str:
    """``pip install .[extras]``, as a user would; 'ok', or what went
    wrong."""
    before = freeze(python)
    # From a copy of what the package is made of: pip builds in the source
    # tree, and a build/ left there from an earlier run could be packaged.
    source = os.path.join(os.path.dirname(python), '..', 'mmgc-source')
    shutil.rmtree(source, ignore_errors=True)
    shutil.copytree(os.path.join(REPO, 'mmgc'), os.path.join(source, 'mmgc'),
                    ignore=shutil.ignore_patterns('__pycache__'))
    for name in ('pyproject.toml', 'README.md'):
        shutil.copy(os.path.join(REPO, name), source)
    spec = f'{os.path.abspath(source)}{entry.extras}'
    code = run([python, '-m', 'pip', '--disable-pip-version-check', 'install',
                '-q', '--force-reinstall', '--no-deps', spec], log_file)
    if code != 0:
        return 'pip install failed'
    # The dependencies, resolved as pip would for a user (nothing to do when
    # the stack satisfies the ranges).
    code = run([python, '-m', 'pip', '--disable-pip-version-check', 'install',
                '-q', spec], log_file)
    if code != 0:
        return 'pip install failed'
    changes = changed_packages(before, freeze(python))
    if changes:
        log_file.write('installing mmgc changed: ' + '; '.join(changes) + '\n')
        return 'changed ' + ', '.join(c.split()[0] for c in changes)
    return 'ok'


def run_lanes(python: str, entry: Entry, work_dir: str,
              log_file) -> LaneOutcome:
    junit = os.path.join(work_dir, 'junit.xml')
    if os.path.exists(junit):
        os.remove(junit)
    # The venv's pytest script, not `python -m pytest`: that would put the
    # checkout on sys.path, and the tests must import the installed mmgc.
    pytest = os.path.join(os.path.dirname(python), 'pytest')
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE='1')
    select = ['-m', entry.tests] if entry.tests else []
    run([pytest, '-q', '-p', 'no:cacheprovider', f'--junitxml={junit}'] +
        select + ['tests'], log_file, env=env)
    return junit_outcome(junit)


#: The toy comparison's schedule in the matrix: the first epoch (50
#: iterations and a COCO evaluation) of the toy 1x schedule's 12, enough for
#: tools/compare.py to train, evaluate and tabulate the pair on the entry's
#: stack (the detection lane trains and resumes over several epochs). The
#: full 12 epochs take about ten minutes on 2 cores.
TOY_COMPARE_OPTIONS = ('train_cfg.max_epochs=1', )


def run_toy_compare(python: str, work_dir: str, log_file) -> str:
    """Train the toy Faster R-CNN pair (SGD vs SGD_GC) through
    tools/compare.py for TOY_COMPARE_OPTIONS' schedule; 'ok' when both
    trained and the table printed."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE='1')
    if run([python, 'tools/generate_toy_data.py'], log_file, env=env) != 0:
        return 'data failed'
    cmd = [
        python, 'tools/compare.py',
        'configs/toy/faster-rcnn_toy-r18_fpn_1x_toycoco.py',
        'configs/toy/faster-rcnn_toy-r18_fpn_gc_1x_toycoco.py',
        # Not compare_toy/, where an earlier run trained the 12 epochs:
        # compare.py refuses to mix runs of other settings.
        '--work-dir', os.path.join(work_dir, 'compare_toy_1epoch'),
        '--jobs', '2', '--cfg-options', *TOY_COMPARE_OPTIONS
    ]
    if run(cmd, log_file, env=env) != 0:
        return 'failed'
    return 'ok'


def describe_tests(expression: str) -> str:
    return f'-m "{expression}"' if expression else 'every lane'


def print_table(results: List[Result]) -> None:
    header = ('entry', 'stack', 'install', 'passed', 'failed', 'skipped',
              'toy compare', 'min')
    rows = [(r.entry, r.versions, r.install, str(r.outcome.passed),
             str(r.outcome.failed), str(r.outcome.skipped), r.toy,
             f'{r.minutes:.1f}') for r in results]
    widths = [max(len(row[i]) for row in rows + [header])
              for i in range(len(header))]

    def line(cells):
        return '| ' + ' | '.join(c.ljust(w) for c, w in zip(cells, widths)) \
            + ' |'

    print(line(header))
    print('|' + '|'.join('-' * (w + 2) for w in widths) + '|')
    for row in rows:
        print(line(row))


def result_record(result: Result) -> dict:
    record = result._asdict()
    record['outcome'] = result.outcome._asdict()
    record['minutes'] = round(result.minutes, 1)
    return record


def results_markdown(records: Dict[str, dict]) -> str:
    """The results file: one row per entry of the matrix, then the skip
    reasons and failures of each."""
    out = [
        '## Results of the matrix',
        '',
        'Written by `tools/compat_matrix.py` (`make compat`, `make '
        'compat-ci`) after each run; do not edit. Each entry is a fresh '
        'virtual environment with the stack a user has (with `--remove-envs`'
        ', as in CI, an entry that extends another continues in that '
        'entry\'s, its own stack installed over it), mmgc installed into '
        'it with `pip install`, and the test lanes (pytest markers, see '
        '`pyproject.toml`) its stack supports. An entry keeps the result '
        'of its last run; the machine-readable form is '
        '`docs/en/_generated/support_matrix.json`.',
        '',
        '| entry | stack | tests | pip install | passed | failed | skipped '
        '| toy compare | minutes | run on | commit |',
        '|---|---|---|---|---|---|---|---|---|---|---|',
    ]
    for entry in MATRIX:
        r = records.get(entry.name)
        if r is None:
            out.append(f'| `{entry.name}` | Python {entry.python}: '
                       f'{", ".join(entry.stack)} | '
                       f'{describe_tests(entry.tests)} | not run yet '
                       '| | | | | | | |')
            continue
        o = r['outcome']
        out.append(
            f'| `{entry.name}` | {r["versions"]} | '
            f'{describe_tests(r["tests"])} | {r["install"]} | {o["passed"]} '
            f'| {o["failed"]} | {o["skipped"]} | {r["toy"]} | '
            f'{r["minutes"]} | {r["date"]} | {r["commit"]} |')
    for entry in MATRIX:
        r = records.get(entry.name)
        if r is None or not (r['outcome']['skip_reasons']
                             or r['outcome']['failures']):
            continue
        out += ['', f'### `{entry.name}`', '']
        for reason, count in r['outcome']['skip_reasons'].items():
            out.append(f'- skipped ({count}): {reason}')
        for test_id in r['outcome']['failures']:
            out.append(f'- failed: `{test_id}`')
    return '\n'.join(out) + '\n'


def write_results(results: List[Result], path: str = RESULTS) -> None:
    """Update the results of the entries that ran in ``path``.json (the
    others keep their last run) and write ``path``.md from it."""
    records = {}
    if os.path.exists(path + '.json'):
        with open(path + '.json') as f:
            records = json.load(f)
    records.update({r.entry: result_record(r) for r in results})
    order = [e.name for e in MATRIX]
    records = {name: records[name] for name in order if name in records}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + '.json', 'w') as f:
        json.dump(records, f, indent=2)
        f.write('\n')
    with open(path + '.md', 'w') as f:
        f.write(results_markdown(records))


class Step(NamedTuple):
    entry: str
    #: the environment it runs in: its own, or the one of the entry it
    #: continues
    env: str
    #: the entry whose environment it continues (None: its own)
    continues: Optional[str]
    #: whether --remove-envs deletes the environment after it
    last_in_env: bool


def plan(names: List[str], share: bool) -> List[Step]:
    """The order the entries run in, and their environments. With
    ``share``, an entry whose ``extends`` entry runs too continues in that
    entry's environment, right after it (a chain continues the first one's);
    the other entries keep their order and their own environments."""
    known = {e.name: e for e in MATRIX}
    names = list(dict.fromkeys(names))
    env_of = {}
    for name in names:
        base = name
        while share and known[base].extends in names:
            base = known[base].extends
        env_of[name] = base
    order = []
    for name in names:
        # The first entry of an environment brings every entry of it, in
        # the order they extend each other.
        if name in order:
            continue
        group = [n for n in names if env_of[n] == env_of[name]]
        while group:
            ready = [n for n in group if known[n].extends not in group]
            order.append(ready[0])
            group.remove(ready[0])
    steps = []
    for i, name in enumerate(order):
        env = env_of[name]
        after = order[i + 1:]
        continues = order[i - 1] if i and env_of[order[i - 1]] == env \
            and env != name else None
        steps.append(Step(name, env, continues,
                          all(env_of[n] != env for n in after)))
    return steps


def run_entry(entry: Entry, env_dir: str, work_dir: str,
              fresh: bool, continues: Optional[str] = None) -> Result:
    """Build one entry's environment (or, ``continues``, install its stack
    into the environment of that entry, just tested), install mmgc, run its
    lanes (and the toy comparison); the log goes to ``work_dir/log.txt``."""
    name = entry.name
    os.makedirs(work_dir, exist_ok=True)
    log_path = os.path.join(work_dir, 'log.txt')
    start = time.time()
    date = datetime.date.today().isoformat()
    commit = checkout_commit()
    if continues:
        log(f'{name}: installing its stack into the environment of '
            f'{continues} (log: {log_path})')
    else:
        log(f'{name}: building the environment (log: {log_path})')
    with open(log_path, 'w') as log_file:
        try:
            python = build_entry(entry, env_dir, log_file, fresh, continues)
        except (RuntimeError, FileNotFoundError) as error:
            log(f'{name}: {error}')
            return Result(name, '?', f'setup failed: {error}', entry.tests,
                          LaneOutcome(0, 0, 0, {}, []), '-',
                          (time.time() - start) / 60, date, commit)
        install = install_mmgc(python, entry, log_file)
        log(f'{name}: pip install of mmgc: {install}; running '
            f'{describe_tests(entry.tests)}')
        outcome = run_lanes(python, entry, work_dir, log_file)
        toy = run_toy_compare(python, work_dir,
                              log_file) if entry.toy_compare else '-'
    log(f'{name}: {outcome.passed} passed, {outcome.failed} failed, '
        f'{outcome.skipped} skipped')
    return Result(name, stack_versions(python), install, entry.tests, outcome,
                  toy, (time.time() - start) / 60, date, commit)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description='Install mmgc into the matrix of user environments and '
        'run the test lanes each supports.')
    parser.add_argument('--entries', nargs='+', metavar='NAME',
                        help='entries to run (default: all); see --list')
    parser.add_argument('--list', action='store_true',
                        help='print the matrix and exit')
    parser.add_argument('--envs-dir', default=os.path.join(REPO, '.compat'),
                        help='where the environments live (default: .compat)')
    parser.add_argument('--fresh', action='store_true',
                        help='rebuild the environments from scratch')
    parser.add_argument('--remove-envs', action='store_true',
                        help='delete each environment after its lanes ran '
                        '(keeps the logs); bounds the disk used to one '
                        'environment. An entry that extends another that '
                        'runs too continues in its environment instead of '
                        'building its own (see --list)')
    parser.add_argument('--results', default=RESULTS, metavar='PATH',
                        help='where the results go: PATH.md and PATH.json '
                        '(default: docs/en/_generated/support_matrix)')
    args = parser.parse_args(argv)

    if args.list:
        for e in MATRIX:
            print(f'{e.name:26s} Python {e.python}: {" ".join(e.stack)}'
                  f'{" + mmcv " + e.mmcv if e.mmcv else ""}; tests '
                  f'{describe_tests(e.tests)}'
                  f'{", toy compare (1 epoch)" if e.toy_compare else ""} '
                  f'({e.note})'
                  f'{"; extends " + e.extends if e.extends else ""}')
        return 0
    known = {e.name: e for e in MATRIX}
    names = args.entries or list(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        parser.error(f'unknown entries {unknown}; known: {list(known)}')

    results = []
    # Environments are shared only where they are removed afterwards: a kept
    # one is reused by its own entry's next run.
    for step in plan(names, share=args.remove_envs):
        name = step.entry
        env_dir = os.path.join(args.envs_dir, step.env)
        done = False
        try:
            results.append(
                run_entry(known[name], env_dir,
                          os.path.join(args.envs_dir, name + '.work'),
                          args.fresh, step.continues))
            # After each entry: an interrupted run keeps what it measured.
            write_results(results[-1:], args.results)
            done = True
        finally:
            # An interrupted entry takes its shared environment with it.
            if args.remove_envs and (step.last_in_env or not done):
                shutil.rmtree(env_dir, ignore_errors=True)
                log(f'{name}: removed {env_dir}')

    print()
    print_table(results)
    ok = all(r.install == 'ok' and r.outcome.failed == 0
             and r.outcome.passed > 0 and r.toy in ('ok', '-')
             for r in results)
    print(f'\n{"all entries pass" if ok else "SOME ENTRIES FAILED"}; results '
          f'in {args.results}.md, logs in {args.envs_dir}/<entry>.work/'
          'log.txt')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
