"""Sphinx configuration of mmgc's documentation (MyST Markdown pages, an API
reference generated from the docstrings)."""
import os
import sys

DOCS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(DOCS))
# Document the checkout, also when mmgc is not installed.
sys.path.insert(0, REPO)

import mmgc  # noqa: E402

# Tables that are facts of the project's files (version ranges, pins, the
# tested stacks), rebuilt at every build so that no page restates them.
sys.path.insert(0, os.path.join(REPO, 'tools'))
import docs_tables  # noqa: E402

docs_tables.write_tables(os.path.join(DOCS, '_tables'))

project = 'mmgc'
author = 'mmgc contributors'
copyright = '2026, mmgc contributors'
release = mmgc.__version__
version = release

extensions = [
    'myst_parser',
    'sphinx.ext.autodoc',
    'sphinx.ext.napoleon',
]

source_suffix = {'.md': 'markdown', '.rst': 'restructuredtext'}
root_doc = 'index'
# _generated/ holds the result files the tools write, _tables/ the tables
# above; pages include them.
exclude_patterns = ['_build', '_generated', '_tables']

# Headings get anchors down to level 3, so pages can link to sections.
myst_heading_anchors = 3
myst_enable_extensions = ['colon_fence', 'deflist']

# Every cross-reference must resolve: a broken one fails `make docs`.
nitpicky = True
nitpick_ignore_regex = [
    # Types from other projects that have no inventory here (no network).
    (r'py:class', r'(torch|mmengine|numpy|typing|collections)\..*'),
    (r'py:class', r'(Tensor|Optimizer|nn\.Module|Module|Parameter)'),
    (r'py:class', r'optional'),
    (r'py:obj', r'(torch|mmengine)\..*'),
    # Private bases and mixins shown by show-inheritance: not public API.
    (r'py:class', r'mmgc\..*\._\w+'),
    (r'py:class', r'mmgc\..*Mixin'),
]

autodoc_member_order = 'bysource'
autodoc_typehints = 'signature'
autodoc_default_options = {'members': True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = 'furo'
html_title = f'mmgc {release}'
