"""The command-line tools of tools/, loaded as modules, so that a test can
call a tool's ``main(argv)`` (or a function of it) in its own process: a
refused run then costs no interpreter start nor imports."""
import importlib.util
from pathlib import Path
from types import ModuleType

TOOLS_DIR = Path(__file__).resolve().parents[1] / 'tools'


def load_tool(name: str) -> ModuleType:
    """``tools/<name>.py`` as a fresh module (its own copy per call)."""
    spec = importlib.util.spec_from_file_location(f'mmgc_tool_{name}',
                                                  TOOLS_DIR / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
