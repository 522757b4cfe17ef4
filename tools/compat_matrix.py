"""Test mmgc in the OpenMMLab environments its users have: the support matrix.

Each entry of the matrix is one virtual environment, built from a Python
the machine has (pyenv's, or ``PYTHON_3_10=/path/to/python3.10``), holding
the stack a user would have *before* adding mmgc. The runner then

1. records ``pip freeze``, installs the checkout with a plain
   ``pip install .[extras]`` (as a user would) and checks that this changed
   nothing but mmgc itself;
2. runs the test lanes the entry supports against the installed package;
3. prints one table: entry, install ok, tests passed/failed/skipped.

Usage::

    python tools/compat_matrix.py                 # every entry
    python tools/compat_matrix.py --entries py38-torch2.0 py310-torch2.1
    python tools/compat_matrix.py --list

Environments are kept in ``.compat/<entry>`` (``--envs-dir``) and reused;
``--fresh`` rebuilds them; ``--remove-envs`` deletes each one once its lanes
have run (CI: every environment holds a CUDA build of torch of about 5 GB, so
only one is on disk at a time). The full lane builds mmcv's compiled ops
against its torch once per machine (``tools/build_mmcv.sh``, cached like the
development wheel). Exit status: 0 when every entry installed cleanly and
every lane passed.
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from typing import Dict, List, NamedTuple, Optional, Tuple

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: Test files of each lane.
LANES: Dict[str, List[str]] = {
    # optimizers, kernels, GC-for-any-optimizer constructor, mmengine Runner
    'optim': [
        'tests/test_paper_optimizers.py', 'tests/test_gc_optimizers.py',
        'tests/test_lookahead_ranger.py', 'tests/test_foreach.py',
        'tests/test_constructor.py', 'tests/test_runner_resume.py',
        'tests/test_compat.py'
    ],
    # real mmdet models, pipelines, COCO evaluation, the tools
    'detection': [
        'tests/test_mmdet_integration.py',
        'tests/test_constructor_openmmlab.py',
        'tests/test_detection_configs.py', 'tests/test_detection_tools.py'
    ],
    'reid': [
        'tests/test_reid.py', 'tests/test_reid_data.py',
        'tests/test_reid_metric.py', 'tests/test_reid_model.py'
    ],
    # mmpretrain models and datasets, the toy pair through the tools
    'classification': [
        'tests/test_classification_configs.py',
        'tests/test_classification_tools.py'
    ],
}


class Entry(NamedTuple):
    name: str
    python: str  # 'X.Y'
    #: the user's stack, installed before mmgc (pip requirement strings)
    stack: Tuple[str, ...]
    #: mmcv version to build with compiled ops against the entry's torch
    mmcv: Optional[str]
    extras: str
    lanes: Tuple[str, ...]
    #: a toy Faster R-CNN SGD vs SGD_GC comparison through tools/compare.py
    toy_compare: bool
    note: str


MATRIX: List[Entry] = [
    Entry('py38-torch2.0', '3.8',
          ('torch==2.0.1', 'numpy==1.24.4', 'mmengine==0.7.1',
           # mmengine < 0.10.2 calls yapf's FormatCode(verify=...), removed
           # in yapf 0.40.2
           'yapf==0.40.1'),
          None, '', ('optim', ), False,
          'floors: Python 3.8, torch 2.0, numpy 1.24, mmengine 0.7.1'),
    Entry('py310-torch2.1', '3.10',
          ('torch==2.1.2', 'numpy==1.26.4', 'mmengine==0.10.3'),
          None, '', ('optim', ), False,
          'the torch of most mmdet 3.3 installations'),
    Entry('py38-torch2.0-mmdet3.0', '3.8',
          ('torch==2.0.1', 'torchvision==0.15.2', 'numpy==1.24.4',
           'mmengine==0.8.0', 'yapf==0.40.1', 'mmdet==3.0.0',
           'mmpretrain==1.0.0', 'pycocotools', 'matplotlib'),
          '2.0.1', '[detection,classification]',
          ('optim', 'detection', 'classification'), True,
          'floors of the full lane: mmdet 3.0.0, mmcv 2.0.1, mmpretrain 1.0.0 '
          '(it needs mmengine 0.8); no ReID lane: mmdet 3.0 has no ReID '
          'models'),
    Entry('py310-torch2.1-mmdet3.3', '3.10',
          ('torch==2.1.2', 'torchvision==0.16.2', 'numpy==1.26.4',
           'mmengine==0.10.3', 'mmdet==3.3.0', 'mmpretrain==1.2.0',
           'pycocotools', 'matplotlib'),
          '2.1.0', '[detection,reid,classification]',
          ('optim', 'detection', 'reid', 'classification'), True,
          'full lane: mmcv 2.1.0 built against torch 2.1.2'),
    Entry('py312-torch2.14', '3.12',
          ('torch==2.14.1', 'numpy>=2', 'mmengine==0.10.7',
           'setuptools<81'),
          None, '', ('optim', ), False,
          'ceilings: Python 3.12, torch 2.14, numpy 2'),
]

TEST_TOOLS = ('pytest>=7', 'pytest-timeout')


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


class Result(NamedTuple):
    entry: str
    versions: str
    install: str
    passed: int
    failed: int
    skipped: int
    toy: str
    minutes: float


def junit_counts(path: str) -> Tuple[int, int, int]:
    """(passed, failed + errors, skipped) of a pytest junit xml file."""
    if not os.path.exists(path):
        return 0, 1, 0
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == 'testsuite' else list(root)
    tests = failed = skipped = 0
    for suite in suites:
        tests += int(suite.get('tests', 0))
        failed += int(suite.get('failures', 0)) + int(suite.get('errors', 0))
        skipped += int(suite.get('skipped', 0))
    return tests - failed - skipped, failed, skipped


def stack_versions(python: str) -> str:
    code = ('import sys, importlib\n'
            'out = ["py%d.%d" % sys.version_info[:2]]\n'
            'for m in ("torch", "numpy", "mmengine", "mmcv", "mmdet", '
            '"mmpretrain"):\n'
            '    try:\n'
            '        out.append(m + " " + importlib.import_module(m).__version__'
            '.split("+")[0])\n'
            '    except Exception:\n'
            '        pass\n'
            'print(", ".join(out))\n')
    try:
        return subprocess.check_output([python, '-c', code], text=True,
                                       stderr=subprocess.DEVNULL).strip()
    except subprocess.CalledProcessError:
        return '?'


def build_entry(entry: Entry, env_dir: str, log_file, fresh: bool) -> str:
    """Create the entry's environment with the user's stack; returns the
    venv's python."""
    python = os.path.join(env_dir, 'bin', 'python')
    if fresh and os.path.isdir(env_dir):
        shutil.rmtree(env_dir)
    if not os.path.exists(python):
        base = find_python(entry.python)
        if run([base, '-m', 'venv', env_dir], log_file) != 0:
            raise RuntimeError(f'creating the venv with {base} failed')
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


def run_lanes(python: str, entry: Entry, work_dir: str, log_file) -> Tuple[
        int, int, int]:
    files = [f for lane in entry.lanes for f in LANES[lane]]
    junit = os.path.join(work_dir, 'junit.xml')
    if os.path.exists(junit):
        os.remove(junit)
    # The venv's pytest script, not `python -m pytest`: that would put the
    # checkout on sys.path, and the tests must import the installed mmgc.
    pytest = os.path.join(os.path.dirname(python), 'pytest')
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE='1')
    run([pytest, '-q', '-p', 'no:cacheprovider', f'--junitxml={junit}'] +
        files, log_file, env=env)
    return junit_counts(junit)


def run_toy_compare(python: str, work_dir: str, log_file) -> str:
    """Train the toy Faster R-CNN pair (SGD vs SGD_GC) through
    tools/compare.py; 'ok' when both trained and the table printed."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE='1')
    if run([python, 'tools/generate_toy_data.py'], log_file, env=env) != 0:
        return 'data failed'
    cmd = [
        python, 'tools/compare.py',
        'configs/toy/faster-rcnn_toy-r18_fpn_1x_toycoco.py',
        'configs/toy/faster-rcnn_toy-r18_fpn_gc_1x_toycoco.py',
        '--work-dir', os.path.join(work_dir, 'compare_toy'), '--jobs', '2'
    ]
    if run(cmd, log_file, env=env) != 0:
        return 'failed'
    return 'ok'


def print_table(results: List[Result]) -> None:
    header = ('entry', 'stack', 'install', 'passed', 'failed', 'skipped',
              'toy compare', 'min')
    rows = [(r.entry, r.versions, r.install, str(r.passed), str(r.failed),
             str(r.skipped), r.toy, f'{r.minutes:.1f}') for r in results]
    widths = [max(len(row[i]) for row in rows + [header])
              for i in range(len(header))]

    def line(cells):
        return '| ' + ' | '.join(c.ljust(w) for c, w in zip(cells, widths)) \
            + ' |'

    print(line(header))
    print('|' + '|'.join('-' * (w + 2) for w in widths) + '|')
    for row in rows:
        print(line(row))


def run_entry(entry: Entry, env_dir: str, work_dir: str,
              fresh: bool) -> Result:
    """Build one entry's environment, install mmgc, run its lanes (and the
    toy comparison); the log goes to ``work_dir/log.txt``."""
    name = entry.name
    os.makedirs(work_dir, exist_ok=True)
    log_path = os.path.join(work_dir, 'log.txt')
    start = time.time()
    log(f'{name}: building the environment (log: {log_path})')
    with open(log_path, 'w') as log_file:
        try:
            python = build_entry(entry, env_dir, log_file, fresh)
        except (RuntimeError, FileNotFoundError) as error:
            log(f'{name}: {error}')
            return Result(name, '?', f'setup failed: {error}', 0, 0, 0, '-',
                          (time.time() - start) / 60)
        install = install_mmgc(python, entry, log_file)
        log(f'{name}: pip install of mmgc: {install}; running '
            f'{", ".join(entry.lanes)}')
        passed, failed, skipped = run_lanes(python, entry, work_dir, log_file)
        toy = run_toy_compare(python, work_dir,
                              log_file) if entry.toy_compare else '-'
    log(f'{name}: {passed} passed, {failed} failed, {skipped} skipped')
    return Result(name, stack_versions(python), install, passed, failed,
                  skipped, toy, (time.time() - start) / 60)


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
                        'environment')
    args = parser.parse_args(argv)

    if args.list:
        for e in MATRIX:
            print(f'{e.name:26s} Python {e.python}: {" ".join(e.stack)}'
                  f'{" + mmcv " + e.mmcv if e.mmcv else ""}; lanes '
                  f'{", ".join(e.lanes)}{", toy compare" if e.toy_compare else ""}'
                  f' ({e.note})')
        return 0
    known = {e.name: e for e in MATRIX}
    names = args.entries or list(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        parser.error(f'unknown entries {unknown}; known: {list(known)}')

    results = []
    for name in names:
        env_dir = os.path.join(args.envs_dir, name)
        try:
            results.append(
                run_entry(known[name], env_dir,
                          os.path.join(args.envs_dir, name + '.work'),
                          args.fresh))
        finally:
            if args.remove_envs:
                shutil.rmtree(env_dir, ignore_errors=True)
                log(f'{name}: removed {env_dir}')

    print()
    print_table(results)
    ok = all(r.install == 'ok' and r.failed == 0 and r.passed > 0
             and r.toy in ('ok', '-') for r in results)
    print(f'\n{"all entries pass" if ok else "SOME ENTRIES FAILED"}; logs in '
          f'{args.envs_dir}/<entry>.work/log.txt')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
