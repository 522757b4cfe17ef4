"""mmgc.reporting: the result files the documentation includes name the
command that wrote them as a reader would type it."""
import json
import sys

import pytest

from mmgc.reporting import write_result_files

pytestmark = [pytest.mark.tools, pytest.mark.fast]


@pytest.mark.parametrize('argv0, program', [
    # `python -m pytest ...` runs pytest's __main__.py from site-packages;
    # the page should not print that path.
    ('/any/site-packages/pytest/__main__.py', 'python -m pytest'),
    ('tools/compare.py', 'python tools/compare.py'),
])
def test_result_files_name_the_command(tmp_path, monkeypatch, argv0,
                                       program):
    monkeypatch.setattr(sys, 'argv', [argv0, '-q', 'a b'])
    write_result_files(tmp_path / 'figure', title='A title', table='x  1',
                       data=dict(x=1), note='A note.')
    page = (tmp_path / 'figure.md').read_text()
    assert page.startswith(
        f"**A title.** Produced by `{program} -q 'a b'` on ")
    assert '```text\nx  1\n```' in page and page.rstrip().endswith('A note.')
    numbers = json.loads((tmp_path / 'figure.json').read_text())
    assert numbers['command'] == f"{program} -q 'a b'"
    assert numbers['results'] == dict(x=1)
