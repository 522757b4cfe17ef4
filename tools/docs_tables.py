"""Tables of the documentation that are facts of the project's own files.

The version ranges mmgc asks for live in ``pyproject.toml``, the pinned
development stack in ``tools/setup_env.sh`` and the tested stacks in
``tools/compat_matrix.py``. ``docs/en/conf.py`` calls :func:`write_tables`
at every build, so the pages that include these tables cannot go stale:

- ``version_support.md``: per package, what mmgc accepts and the oldest and
  newest version a test environment installs;
- ``dev_stack.md``: the development environment's pins.

Usage (what the docs build does): ``python tools/docs_tables.py OUT_DIR``.
"""
import os
import re
import sys
from pathlib import Path
from typing import Dict, List, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'tools'))

from compat_matrix import MATRIX  # noqa: E402

try:
    import tomllib
except ImportError:  # Python < 3.11: the TOML reader pip ships
    from pip._vendor import tomli as tomllib

SETUP_SCRIPT = REPO / 'tools' / 'setup_env.sh'
PYPROJECT = REPO / 'pyproject.toml'

#: The rows of the support table: the package (setup_env.sh pins it as
#: ``<NAME>_VERSION``) and the extra (or core) of pyproject that asks for it.
PACKAGES = (
    ('torch', 'core'),
    ('numpy', 'core'),
    ('mmengine', 'core'),
    ('mmcv', 'detection'),
    ('mmdet', 'detection'),
    ('mmpretrain', 'classification'),
    ('deepspeed', 'deepspeed'),
)


def dev_pins() -> Dict[str, str]:
    """``{'torch': '2.14.1', ...}`` from setup_env.sh's ``X_VERSION=``."""
    pins = {name.lower(): version for name, version in re.findall(
        r'^([A-Z]+)_VERSION=(\S+)$', SETUP_SCRIPT.read_text(), re.M)}
    if 'torch' not in pins:
        raise RuntimeError(f'{SETUP_SCRIPT} pins no TORCH_VERSION: the docs '
                           'table of the development stack reads it')
    return pins


def dev_python() -> str:
    """The Python the development setup asks for ('the Python 3.11')."""
    match = re.search(r'the Python (3\.\d+)', SETUP_SCRIPT.read_text())
    if not match:
        raise RuntimeError(f'{SETUP_SCRIPT} names no Python version in its '
                           'header ("the Python 3.X to build the venv")')
    return match.group(1)


def requirements() -> Dict[str, List[str]]:
    """pyproject's requirement strings per group: 'core', each extra, and
    'python' (``requires-python``)."""
    project = tomllib.loads(PYPROJECT.read_text())['project']
    groups = dict(project['optional-dependencies'])
    groups.update(core=project['dependencies'],
                  python=[project['requires-python']])
    return groups


def _version_key(version: str) -> Tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r'\d+', version)[:3])


def tested_versions(package: str) -> List[Tuple[str, str]]:
    """(version, where) for each version of ``package`` that a test
    environment asks for: every matrix entry's stack and the development
    environment's pins."""
    found = []
    for entry in MATRIX:
        for requirement in entry.stack:
            match = re.match(r'([\w-]+)\s*(==)?(.*)', requirement)
            name, exact, version = match.groups()
            if name == package and version:
                # A range such as 'numpy>=2' is shown as written.
                found.append((version if exact else f'`{version}`',
                              entry.name))
        if package == 'mmcv' and entry.mmcv:
            found.append((entry.mmcv, entry.name))
    pin = dev_pins().get(package)
    if pin:
        found.append((pin, 'development'))
    return found


def version_support_markdown() -> str:
    """The support table: accepted range, oldest and newest tested."""
    groups = requirements()
    rows = ['| package | mmgc accepts (`pyproject.toml`) | oldest tested | '
            'newest tested |', '|---|---|---|---|']
    pythons = [entry.python for entry in MATRIX] + [dev_python()]
    rows.append(f'| Python | `{groups["python"][0]}` | '
                f'{min(pythons, key=_version_key)} | '
                f'{max(pythons, key=_version_key)} |')
    for package, group in PACKAGES:
        accepted = [r for r in groups.get(group, [])
                    if re.match(rf'{package}\b', r)]
        tested = tested_versions(package)
        if not accepted or not tested:
            raise RuntimeError(
                f'{package}: no range in pyproject\'s {group!r} group or no '
                'tested pin; update PACKAGES in tools/docs_tables.py')
        where = '' if group == 'core' else f' (`[{group}]`)'
        oldest = min(tested, key=lambda t: _version_key(t[0]))
        newest = max(tested, key=lambda t: _version_key(t[0]))
        rows.append(f'| {package}{where} | `{accepted[0]}` | '
                    f'{oldest[0]} (`{oldest[1]}`) | '
                    f'{newest[0]} (`{newest[1]}`) |')
    return '\n'.join(rows) + '\n'


def dev_stack_markdown() -> str:
    """One line: what `make setup` installs, pinned."""
    listed = ', '.join(f'{name} {version}'
                       for name, version in dev_pins().items())
    return (f'Python {dev_python()}; {listed} (the pins of '
            '`tools/setup_env.sh`).\n')


def write_tables(out_dir) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in (('version_support.md', version_support_markdown()),
                       ('dev_stack.md', dev_stack_markdown())):
        path = out / name
        # Rewrite only a changed table: Sphinx rebuilds what includes it.
        if not path.exists() or path.read_text() != text:
            path.write_text(text)


if __name__ == '__main__':
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    write_tables(sys.argv[1])
    print(f'tables written to {os.path.abspath(sys.argv[1])}')
