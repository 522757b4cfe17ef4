"""tools/docs_tables.py: the tables the docs build from pyproject.toml,
tools/setup_env.sh and tools/compat_matrix.py, and the promise they make:
every version a test environment installs is one mmgc accepts."""
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

pytestmark = [pytest.mark.tools, pytest.mark.fast]

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'tools'))

import docs_tables  # noqa: E402


def test_every_tested_version_is_in_the_range_mmgc_accepts():
    groups = docs_tables.requirements()
    checked = 0
    for package, group in docs_tables.PACKAGES:
        accepted = [Requirement(r) for r in groups[group]
                    if Requirement(r).name == package]
        assert len(accepted) == 1, (package, group)
        for version, where in docs_tables.tested_versions(package):
            if version.startswith('`'):  # a range such as `>=2`
                continue
            assert accepted[0].specifier.contains(
                Version(version), prereleases=True), (package, version, where)
            checked += 1
    assert checked >= 15
    pythons = {entry.python for entry in docs_tables.MATRIX}
    pythons.add(docs_tables.dev_python())
    python_range = Requirement('python' + groups['python'][0]).specifier
    assert all(python_range.contains(p + '.0') for p in pythons)


def test_the_support_table_has_a_row_per_package(tmp_path):
    docs_tables.write_tables(tmp_path)
    rows = (tmp_path / 'version_support.md').read_text().splitlines()[2:]
    names = [row.split('|')[1].split()[0] for row in rows]
    assert names == ['Python'] + [p for p, _ in docs_tables.PACKAGES]
    pins = docs_tables.dev_pins()
    torch_row = rows[1].split('|')
    # The oldest torch is the floor entry's, the newest at least the pin.
    assert torch_row[3].strip().startswith('2.0.1 (`py38-torch2.0`)')
    assert Version(torch_row[4].split()[0]) >= Version(pins['torch'])
    stack = (tmp_path / 'dev_stack.md').read_text()
    assert all(version in stack for version in pins.values())
    # Written again unchanged: the file is left alone (Sphinx would
    # otherwise rebuild every page that includes it).
    before = (tmp_path / 'dev_stack.md').stat().st_mtime_ns
    docs_tables.write_tables(tmp_path)
    assert (tmp_path / 'dev_stack.md').stat().st_mtime_ns == before
