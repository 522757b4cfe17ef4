"""tools/compat_matrix.py without building environments: the order the
entries run in, which environment each runs in and when --remove-envs
deletes it, and the rule that keeps an environment another entry installed
into from being reused as the first one's."""
import re

import pytest

from _lanes import REPO_ROOT
from _tools import load_tool

pytestmark = [pytest.mark.tools, pytest.mark.fast]

CI_ENTRIES = ['py38-torch2.0', 'py310-torch2.1', 'py38-torch2.0-mmdet3.0']


@pytest.fixture(scope='module')
def matrix():
    return load_tool('compat_matrix')


def steps(matrix, names, share):
    return [(s.entry, s.env, s.continues, s.last_in_env)
            for s in matrix.plan(names, share)]


def test_ci_runs_both_python_3_8_entries_with_removed_envs(matrix):
    """What the sharing below is for: make compat-ci."""
    makefile = (REPO_ROOT / 'Makefile').read_text()
    listed = re.search(r'^COMPAT_CI_ENTRIES := (.*)$', makefile, re.M)
    assert sorted(listed.group(1).split()) == sorted(CI_ENTRIES)
    assert 'compat_matrix.py --remove-envs' in makefile


def test_with_removed_envs_the_mmdet_floor_continues_the_floor_env(matrix):
    """CI: torch 2.0.1 is installed once, for both Python 3.8 entries; the
    floor runs first, in a new environment, which is removed only after the
    mmdet entry ran in it."""
    assert steps(matrix, CI_ENTRIES, share=True) == [
        ('py38-torch2.0', 'py38-torch2.0', None, False),
        ('py38-torch2.0-mmdet3.0', 'py38-torch2.0', 'py38-torch2.0', True),
        ('py310-torch2.1', 'py310-torch2.1', None, True),
    ]
    # Named the other way round, the floor still goes first.
    assert steps(matrix, list(reversed(CI_ENTRIES)), share=True) == [
        ('py38-torch2.0', 'py38-torch2.0', None, False),
        ('py38-torch2.0-mmdet3.0', 'py38-torch2.0', 'py38-torch2.0', True),
        ('py310-torch2.1', 'py310-torch2.1', None, True),
    ]


def test_kept_envs_and_lone_entries_have_their_own(matrix):
    # Kept environments are reused by their own entry's next run: each
    # entry keeps its own, in the order given.
    assert steps(matrix, CI_ENTRIES, share=False) == [
        (name, name, None, True) for name in CI_ENTRIES]
    assert steps(matrix, ['py38-torch2.0-mmdet3.0'], share=True) == [
        ('py38-torch2.0-mmdet3.0', 'py38-torch2.0-mmdet3.0', None, True)]
    # Every entry runs once, whatever is asked.
    every = [e.name for e in matrix.MATRIX]
    planned = [s.entry for s in matrix.plan(every + every, share=True)]
    assert sorted(planned) == sorted(every)


def test_an_entry_extends_one_of_the_same_python_and_torch(matrix):
    """What makes continuing an environment the same as building it: the
    same interpreter and torch, and a stack that sets every package the
    other's does (its own version wins)."""
    known = {e.name: e for e in matrix.MATRIX}
    extending = [e for e in matrix.MATRIX if e.extends]
    assert [e.name for e in extending] == ['py38-torch2.0-mmdet3.0']

    def pins(entry):
        return dict(re.match(r'([\w-]+)(.*)', s).groups()
                    for s in entry.stack)

    for entry in extending:
        base = known[entry.extends]
        assert base.name != entry.name and not base.extends
        assert base.python == entry.python
        assert pins(base)['torch'] == pins(entry)['torch']
        assert set(pins(base)) <= set(pins(entry))
        assert base.mmcv is None


def test_an_env_another_entry_installed_into_is_built_again(matrix,
                                                            tmp_path):
    env = tmp_path / 'py38-torch2.0'
    floor, mmdet = 'py38-torch2.0', 'py38-torch2.0-mmdet3.0'
    # Nothing there yet; an environment from before the marks: reused.
    assert not matrix.must_rebuild(str(env), floor, fresh=False)
    env.mkdir()
    assert matrix.env_mark(str(env)) is None
    assert not matrix.must_rebuild(str(env), floor, fresh=False)
    # The floor's own environment: reused, or rebuilt with --fresh.
    (env / matrix.ENV_MARK).write_text(floor + '\n')
    assert matrix.env_mark(str(env)) == floor
    assert not matrix.must_rebuild(str(env), floor, fresh=False)
    assert matrix.must_rebuild(str(env), floor, fresh=True)
    # The mmdet entry continues it, --fresh or not (the floor just built
    # it).
    for fresh in (False, True):
        assert not matrix.must_rebuild(str(env), mmdet, fresh,
                                       continues=floor)
    # Once the mmdet stack went in, the floor does not run in it again, and
    # nothing else continues it.
    (env / matrix.ENV_MARK).write_text(mmdet + '\n')
    assert matrix.must_rebuild(str(env), floor, fresh=False)
    assert matrix.must_rebuild(str(env), mmdet, fresh=False, continues=floor)
