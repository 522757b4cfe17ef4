"""The test lanes are pytest markers registered in pyproject.toml: every test
file names its lanes in a module-level ``pytestmark``, every marker used is
registered, and every test file runs in at least one environment of the
support matrix (tools/compat_matrix.py selects lanes by marker expression)."""
import importlib.util
import re

import pytest

from _lanes import (REPO_ROOT, markers_used, may_select, module_lanes,
                    registered_lanes, selected)

pytestmark = [pytest.mark.tools, pytest.mark.fast]

TEST_FILES = sorted((REPO_ROOT / 'tests').rglob('test_*.py'))


def load_compat_matrix():
    spec = importlib.util.spec_from_file_location(
        'compat_matrix', REPO_ROOT / 'tools' / 'compat_matrix.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_test_file_names_a_registered_lane():
    lanes = registered_lanes()
    assert 'fast' in lanes
    problems = {}
    for path in TEST_FILES:
        marks = module_lanes(path)
        if not set(marks) <= set(lanes):
            problems[path.name] = f'not registered lanes in {marks}'
        elif not set(marks) - {'fast'}:
            problems[path.name] = (
                'no lane besides fast: add pytestmark = [pytest.mark.<lane>'
                f', ...] with lanes of {lanes}')
    assert not problems, problems


def test_every_marker_used_is_registered(pytestconfig):
    # What pytest knows: pyproject's lanes, its own markers (parametrize,
    # skipif, ...) and its plugins' (timeout).
    known = {re.split(r'[:(]', line, 1)[0].strip()
             for line in pytestconfig.getini('markers')}
    assert set(registered_lanes()) <= known
    unknown = {path.name: sorted(markers_used(path) - known)
               for path in TEST_FILES if markers_used(path) - known}
    assert not unknown, f'markers not registered in pyproject.toml: {unknown}'


def test_every_test_file_runs_somewhere_in_the_support_matrix():
    matrix = load_compat_matrix().MATRIX
    lanes = set(registered_lanes())
    for entry in matrix:
        names = set(re.findall(r'\w+', entry.tests)) - {'and', 'or', 'not'}
        assert names <= lanes, (entry.name, names - lanes)
    dev_only = set(load_compat_matrix().DEV_ONLY_LANES)
    nowhere = [path.name for path in TEST_FILES
               if not dev_only & set(module_lanes(path))
               and not any(may_select(entry.tests, path) for entry in matrix)]
    assert not nowhere, f'in no environment of the support matrix: {nowhere}'


def test_marker_expressions_read_as_pytest_reads_them():
    assert selected('optim or sharded', ['sharded', 'fast'])
    assert not selected('not (detection or reid)', ['sharded', 'detection'])
    assert selected('not reid', ['tools'])  # an absent marker is false
    assert selected('', ['detection'])  # no expression: everything


def test_a_file_is_kept_when_one_of_its_tests_can_be_selected():
    # test_toy_data.py: lanes tools and fast, its ReID case also reid.
    toy_data = REPO_ROOT / 'tests' / 'test_toy_data.py'
    assert may_select('reid', toy_data)
    assert not may_select('detection', toy_data)
