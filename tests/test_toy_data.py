"""The rule both toy generators follow for an output folder that already
holds something: reuse the same dataset, refuse other data unless told to
overwrite, then replace it."""
import json
from dataclasses import asdict

import pytest

from mmgc.datasets import (ToyClsSettings, ToyCocoSettings, generate_toy_cls,
                           generate_toy_coco)

GENERATORS = {
    'coco': (generate_toy_coco, ToyCocoSettings(num_train=2, num_val=1),
             ToyCocoSettings(num_train=3, num_val=1),
             'tools/generate_toy_data.py', 'toy_coco_meta.json'),
    'cls': (generate_toy_cls,
            ToyClsSettings(num_train_per_class=1, num_val_per_class=1),
            ToyClsSettings(num_train_per_class=2, num_val_per_class=1),
            'tools/generate_toy_cls.py', 'toy_cls_meta.json'),
}


@pytest.mark.parametrize('kind', GENERATORS)
def test_output_folder_is_reused_refused_or_replaced(kind, tmp_path):
    generate, settings, other, tool, meta = GENERATORS[kind]
    out = tmp_path / 'data'
    ann_files = generate(out, settings)
    written = {p: p.stat().st_mtime_ns for p in ann_files.values()}

    messages = []
    assert generate(out, settings, progress=messages.append) == ann_files
    assert 'nothing to do' in messages[0]
    assert {p: p.stat().st_mtime_ns for p in ann_files.values()} == written

    with pytest.raises(FileExistsError,
                       match=f'written with other settings.*{tool} '
                       '--overwrite'):
        generate(out, other)
    generate(out, other, overwrite=True)
    assert json.loads((out / meta).read_text()) == asdict(other)

    stranger = tmp_path / 'stranger'
    stranger.mkdir()
    (stranger / 'notes.txt').write_text('not a dataset')
    with pytest.raises(FileExistsError,
                       match=f'is not a toy .*folder.*{tool} --overwrite'):
        generate(stranger, settings)
