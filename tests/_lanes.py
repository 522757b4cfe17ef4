"""The test lanes, read from the files without importing them.

A lane is a pytest marker registered in pyproject.toml; a test file names
its lanes in a module-level ``pytestmark``. conftest.py uses this to leave
out, under ``-m``, the files whose lanes the expression excludes (they may
import packages the environment lacks); tests/test_lanes.py checks that
every file has lanes and every marker is registered.
"""
import ast
import collections
import re
from pathlib import Path
from typing import Iterable, List, Optional, Set

REPO_ROOT = Path(__file__).resolve().parents[1]


def registered_lanes() -> List[str]:
    """The markers pyproject.toml registers (read as text: Python 3.8-3.10
    have no TOML reader)."""
    text = (REPO_ROOT / 'pyproject.toml').read_text()
    block = re.search(r'^markers = \[(.*?)^\]', text, re.S | re.M)
    if block is None:
        raise ValueError('pyproject.toml registers no pytest markers')
    return re.findall(r'^\s*"(\w+):', block.group(1), re.M)


def mark_name(node: ast.AST) -> Optional[str]:
    """'x' for the expression ``pytest.mark.x``, else None."""
    if (isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == 'mark'
            and isinstance(node.value.value, ast.Name)
            and node.value.value.id == 'pytest'):
        return node.attr
    return None


def module_lanes(path: Path) -> List[Optional[str]]:
    """The markers of a test file's module-level ``pytestmark`` (None for an
    entry that is not ``pytest.mark.<name>``)."""
    for node in ast.parse(path.read_text()).body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == 'pytestmark'):
            values = (node.value.elts if isinstance(
                node.value, (ast.List, ast.Tuple)) else [node.value])
            return [mark_name(v) for v in values]
    return []


def markers_used(path: Path) -> Set[str]:
    """Every ``pytest.mark.<name>`` of a file, on tests and parameters
    too."""
    return {name for node in ast.walk(ast.parse(path.read_text()))
            for name in [mark_name(node)] if name}


def selected(expression: str, marks: Iterable[Optional[str]]) -> bool:
    """Whether ``pytest -m expression`` selects a test marked ``marks``.
    Marker expressions are and/or/not over names: valid Python."""
    if not expression:
        return True
    present = collections.defaultdict(bool, {m: True for m in marks if m})
    return bool(eval(compile(expression, '<marker expression>', 'eval'),
                     {'__builtins__': {}}, present))


def may_select(expression: str, path: Path) -> bool:
    """Whether ``-m expression`` can select any test of the file: with its
    lanes alone, or with one more marker a test or parameter of it adds."""
    lanes = module_lanes(path)
    try:
        return selected(expression, lanes) or any(
            selected(expression, lanes + [extra])
            for extra in markers_used(path) - set(lanes))
    except Exception:  # what Python cannot read, e.g. -m "mark(arg=1)"
        return True  # pytest decides
