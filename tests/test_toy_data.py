"""The rule the toy generators (COCO, classification, ReID) follow for an
output folder that already holds something: reuse the same dataset, refuse
other data unless told to overwrite, then replace it; an output folder that
is a file is an error naming it."""
import importlib.util
from pathlib import Path

import pytest

from mmgc.datasets import (ToyClsSettings, ToyCocoSettings, generate_toy_cls,
                           generate_toy_coco)

pytestmark = [pytest.mark.tools, pytest.mark.fast]

REPO_ROOT = Path(__file__).resolve().parents[1]


def generate_toy_reid(out_dir, arguments, **options):
    # Imported when used: mmgc.reid needs mmdet >= 3.1 (the reid lane).
    from mmgc.reid import generate_toy_market1501
    return generate_toy_market1501(str(out_dir), **arguments, **options)


# kind -> (generator, settings, other settings of a smaller dataset, the
# tool its errors name)
GENERATORS = {
    'coco': (generate_toy_coco, ToyCocoSettings(num_train=3, num_val=1),
             ToyCocoSettings(num_train=2, num_val=1),
             'tools/generate_toy_data.py'),
    'cls': (generate_toy_cls,
            ToyClsSettings(num_train_per_class=2, num_val_per_class=1),
            ToyClsSettings(num_train_per_class=1, num_val_per_class=1),
            'tools/generate_toy_cls.py'),
    'reid': (generate_toy_reid,
             dict(num_train_ids=3, num_test_ids=2, num_distractors=2,
                  num_junk=1),
             dict(num_train_ids=2, num_test_ids=2, num_distractors=1,
                  num_junk=1),
             'tools/generate_toy_reid.py'),
}


def modification_times(folder):
    return {p: p.stat().st_mtime_ns for p in folder.rglob('*') if p.is_file()}


def contents(folder):
    return {p.relative_to(folder): p.read_bytes()
            for p in folder.rglob('*') if p.is_file()}


@pytest.mark.parametrize(
    'kind', ['coco', 'cls', pytest.param('reid', marks=pytest.mark.reid)])
def test_output_folder_is_reused_refused_or_replaced(kind, tmp_path):
    generate, settings, other, tool = GENERATORS[kind]
    out = tmp_path / 'data'
    returned = generate(out, settings)
    written = modification_times(out)

    messages = []
    assert generate(out, settings, progress=messages.append) == returned
    assert 'nothing to do' in messages[0]
    assert modification_times(out) == written

    with pytest.raises(FileExistsError,
                       match=f'written with other settings.*{tool} '
                       '--overwrite'):
        generate(out, other)
    generate(out, other, overwrite=True)
    # Replaced: byte for byte what an empty folder gets, nothing left of the
    # larger dataset.
    generate(tmp_path / 'fresh', other)
    assert contents(out) == contents(tmp_path / 'fresh')

    stranger = tmp_path / 'stranger'
    stranger.mkdir()
    (stranger / 'notes.txt').write_text('not a dataset')
    with pytest.raises(FileExistsError,
                       match=f'is not a toy .*folder.*{tool} --overwrite'):
        generate(stranger, settings)


def run_tool_main(tool: str, argv) -> str:
    """Run ``tools/<tool>.py`` with ``argv`` in this process; the message it
    exits with (SystemExit, as from the command line: no traceback)."""
    spec = importlib.util.spec_from_file_location(
        f'mmgc_tool_{tool}', REPO_ROOT / 'tools' / f'{tool}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(SystemExit) as exited:
        module.main(argv)
    return str(exited.value.code)


@pytest.mark.parametrize('tool, tag', [
    ('generate_toy_data', 'toy_coco'), ('generate_toy_cls', 'toy_cls'),
    pytest.param('generate_toy_reid', 'toy_reid', marks=pytest.mark.reid)])
def test_output_folder_that_is_a_file_is_named(tool, tag, tmp_path):
    taken = tmp_path / 'taken'
    taken.write_text('kept')
    message = run_tool_main(tool, ['--out-dir', str(taken), '--overwrite'])
    assert message.startswith(f'[{tag}] error: Output folder {taken} is an '
                              'existing file, not a folder.'), message
    assert f'--out-dir of tools/{tool}.py' in message
    message = run_tool_main(tool, ['--out-dir', str(taken / 'sub')])
    assert (f'Output folder {taken / "sub"} cannot be created: {taken} is an '
            'existing file') in message
    assert taken.read_text() == 'kept'
