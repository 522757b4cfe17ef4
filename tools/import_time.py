"""How long ``import mmgc`` takes, next to ``import mmengine``.

Runs ``python -X importtime -c 'import <module>'`` in fresh interpreters and
reads the cumulative time of the top-level module from Python's report; the
best of several runs is printed (the first run may also compile bytecode,
and the machine's other load only ever adds time). Also says whether mmdet,
mmcv or mmpretrain were imported on the way, which ``import mmgc`` must not
do (they load with ``import mmgc.reid`` / ``import mmgc.classification``).
By default it also times torch, which mmgc's optimizers build on and plain
``import mmengine`` does not load, and ``mmengine.runner``, which every
training run imports anyway.

Usage: python tools/import_time.py [--runs 5] [--python PATH] [module ...]
"""
import argparse
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

REPO_ROOT = Path(__file__).resolve().parents[1]
# Run from a source checkout without installing mmgc.
sys.path.insert(0, str(REPO_ROOT))

from mmgc.reporting import write_result_files  # noqa: E402

HEAVY_PACKAGES = ('mmdet', 'mmcv', 'mmpretrain')
DEFAULT_MODULES = ['mmengine', 'torch', 'mmengine.runner', 'mmgc']

# "import time:   self [us] | cumulative | imported package"; nesting is
# shown by the indentation of the package name.
_LINE = re.compile(r'^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( *)(\S+)\s*$')


def parse_importtime(report: str) -> Dict[str, int]:
    """Cumulative microseconds of each top-level (not nested) import in the
    text ``-X importtime`` writes to stderr."""
    cumulative = {}
    for line in report.splitlines():
        match = _LINE.match(line)
        if match and len(match.group(3)) <= 1:
            cumulative[match.group(4)] = int(match.group(2))
    return cumulative


def imported_modules(report: str) -> List[str]:
    """Every module the report lists, nested ones included."""
    return [m.group(4) for m in map(_LINE.match, report.splitlines()) if m]


def time_import(python: str, module: str) -> Tuple[int, List[str]]:
    """One fresh interpreter: the cumulative microseconds of ``import
    module`` and the modules it loaded."""
    env = dict(os.environ)
    # The checkout's mmgc, as the other tools use it.
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (str(REPO_ROOT), env.get('PYTHONPATH')) if p)
    result = subprocess.run(
        [python, '-X', 'importtime', '-c', f'import {module}'],
        capture_output=True, text=True, cwd=REPO_ROOT, env=env)
    if result.returncode != 0:
        raise SystemExit(f'import {module} failed with {python}:\n'
                         f'{result.stderr[-3000:]}')
    top_level = parse_importtime(result.stderr)
    if module not in top_level:
        raise SystemExit(f'no top-level entry for {module} in the '
                         '-X importtime report')
    return top_level[module], imported_modules(result.stderr)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        'modules', nargs='*', default=DEFAULT_MODULES,
        help=f'modules to time (default: {" ".join(DEFAULT_MODULES)})')
    parser.add_argument('--runs', type=int, default=5,
                        help='fresh interpreters per module; the best counts')
    parser.add_argument('--python', default=sys.executable,
                        help='the interpreter to time (default: this one)')
    parser.add_argument('--out', metavar='STEM',
                        help='also write the table to STEM.md and the '
                        'numbers to STEM.json (with the command and the '
                        'machine), for the documentation')
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error('--runs must be at least 1')

    lines = [f'python -X importtime -c "import <module>", best of '
             f'{args.runs} runs']
    print(lines[0] + f' ({args.python})')
    times = {module: [] for module in args.modules}
    loaded = {module: set() for module in args.modules}
    # Round-robin, so that a change in the machine's load hits every module.
    for _ in range(args.runs):
        for module in args.modules:
            microseconds, modules = time_import(args.python, module)
            times[module].append(microseconds)
            loaded[module].update(modules)
    for module in args.modules:
        heavy = [p for p in HEAVY_PACKAGES if p in loaded[module]]
        runs = ', '.join(f'{t / 1000:.0f}' for t in times[module])
        lines.append(f'  import {module:<16}{min(times[module]) / 1000:8.1f} '
                     f'ms (runs: {runs} ms); '
                     f'of {"/".join(HEAVY_PACKAGES)} it loads '
                     f'{", ".join(heavy) if heavy else "none"}')
        print(lines[-1])
    if args.out:
        write_result_files(
            args.out, title='Import time of mmgc next to mmengine and torch',
            table='\n'.join(lines),
            data={module: dict(best_ms=min(times[module]) / 1000,
                               runs_ms=[t / 1000 for t in times[module]],
                               heavy_packages_loaded=sorted(
                                   p for p in HEAVY_PACKAGES
                                   if p in loaded[module]))
                  for module in args.modules})


if __name__ == '__main__':
    main()
