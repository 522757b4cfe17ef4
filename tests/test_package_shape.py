"""The shape of the package: no import cycle anywhere in mmgc/, and no
imports hidden inside functions in mmgc/optim/ (each module's dependencies
are the ones listed at its top)."""
import ast
from pathlib import Path
from typing import Dict, List, Set

import pytest

pytestmark = [pytest.mark.optim, pytest.mark.fast]

PACKAGE = Path(__file__).resolve().parent.parent / 'mmgc'


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def _modules() -> Dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob('*.py')}


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ''
    base = module.split('.')
    base = base if is_package else base[:-1]
    base = base[:len(base) - (node.level - 1)]
    return '.'.join(base + ([node.module] if node.module else []))


def _imports(module: str, path: Path, known: Set[str]) -> Set[str]:
    """The mmgc modules ``module`` imports, anywhere in its body. ``from a
    import b`` counts as an import of ``a.b`` when that is a module, else of
    ``a`` (a name defined in ``a``)."""
    found = set()
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, module, path.name == '__init__.py')
            for alias in node.names:
                sub = f'{base}.{alias.name}'
                found.add(sub if sub in known else base)
    return {name for name in found if name in known and name != module}


def _cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    components = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return components


def test_the_import_graph_has_no_cycle():
    modules = _modules()
    graph = {name: _imports(name, path, set(modules))
             for name, path in modules.items()}
    assert graph['mmgc.optim.gc_coverage'], 'the scan found no imports'
    assert _cycles(graph) == []


def test_a_cycle_is_found():
    # The detector itself: a -> b -> c -> a.
    graph = {'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}
    assert _cycles(graph) == [['a', 'b', 'c']]


def test_optim_modules_import_only_at_the_top():
    hidden = []
    for path in (PACKAGE / 'optim').rglob('*.py'):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Import, ast.ImportFrom)):
                    hidden.append(f'{path.relative_to(PACKAGE)}:'
                                  f'{inner.lineno}')
    assert hidden == []
