"""The documentation's promises: its Python snippets and config fragments
run as written, the API reference lists every registered optimizer and the
constructor, every public name has a docstring (autodoc makes them the
reference), and the README's generated blocks match the files the tools
wrote. `make docs` builds the site with warnings as errors and checks its
internal links.

The config fragments inherit from mmdet's configs, so the file is in the
detection lane."""
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config

import mmgc
import mmgc.engine
import mmgc.optim

pytestmark = [pytest.mark.tools, pytest.mark.detection]

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / 'docs' / 'en'
PAGES = sorted(DOCS.glob('*.md'))
FENCE = re.compile(r'^```python\n(.*?)^```', re.S | re.M)


def _snippets(page: Path):
    """(config fragments, Python code) of a page. A fragment starts with the
    line ``# config`` (or ``# config: <folder>``: it is a file of that folder,
    for relative ``_base_`` paths); a block whose first line is
    ``# not run: <why>`` (it needs a trained model or a GPU) is left out."""
    fragments, code = [], []
    for block in FENCE.findall(page.read_text()):
        first = block.split('\n', 1)[0].strip()
        if first.startswith('# not run:'):
            continue
        if first == '# config' or first.startswith('# config:'):
            folder = first.partition(':')[2].strip() or None
            fragments.append((folder, block))
        else:
            code.append(block)
    return fragments, code


def test_the_pages_have_snippets():
    counted = [sum(map(len, _snippets(page))) for page in PAGES]
    assert sum(counted) >= 5, 'the snippet scan found (almost) nothing'


@pytest.mark.parametrize('page', PAGES, ids=lambda p: p.name)
def test_config_fragments_load(page):
    for folder, fragment in _snippets(page)[0]:
        if folder is None:
            cfg = Config.fromstring(fragment, file_format='.py')
        else:
            path = REPO / folder / f'_docs_snippet_{page.stem}.py'
            path.write_text(fragment)
            try:
                cfg = Config.fromfile(str(path))
            finally:
                path.unlink()
        # What a config fragment sets is there after loading.
        assert 'optim_wrapper' in cfg or 'optimizer' in cfg or \
            'custom_hooks' in cfg or 'strategy' in cfg, fragment


@pytest.mark.parametrize('page', [p for p in PAGES if _snippets(p)[1]],
                         ids=lambda p: p.name)
def test_python_snippets_run(page, tmp_path):
    # The blocks of a page run in order in one fresh interpreter, as a
    # reader would paste them, in an empty folder.
    script = '\n\n'.join(_snippets(page)[1])
    done = subprocess.run([sys.executable, '-c', script], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr


def test_api_reference_lists_every_registered_optimizer():
    api = (DOCS / 'api.md').read_text()
    documented = {
        name.rsplit('.', 1)[-1]
        for name in re.findall(r'\.\. auto(?:class|function):: ([\w.]+)', api)
    }
    missing = set(mmgc.MMGC_OPTIMIZERS + ('GCOptimWrapperConstructor',
                                          'GCStatsHook', 'GCFSDPStrategy')
                  ) - documented
    assert not missing


@pytest.mark.parametrize('module', [mmgc.optim, mmgc.engine],
                         ids=lambda m: m.__name__)
def test_public_names_have_docstrings(module):
    undocumented = [
        name for name in module.__all__
        if (inspect.isclass(getattr(module, name))
            or inspect.isfunction(getattr(module, name)))
        and not inspect.getdoc(getattr(module, name))
    ]
    assert undocumented == []


def test_generated_blocks_are_up_to_date():
    done = subprocess.run(
        [sys.executable, 'tools/docs_figures.py', '--check'], cwd=REPO,
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
