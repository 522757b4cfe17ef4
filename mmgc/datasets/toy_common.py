"""What the dataset generators (toy shapes, MNIST digits) share: the
outlines of their shapes, the rule for an output folder that already holds
something (reuse it, replace it, or refuse), and the two layouts they write
(COCO, and ImageNet's class folders)."""
import json
import math
import os.path as osp
import shlex
from dataclasses import asdict
from pathlib import Path
from typing import (Callable, Dict, Iterable, List, Optional, Sequence,
                    Tuple)

import cv2
import numpy as np

SHAPES = ('cross', 'ellipse', 'rectangle', 'star', 'triangle')
# File names follow COCO so configs written for COCO need only a new data_root.
COCO_SPLITS = {'train': 'train2017', 'val': 'val2017'}
CLS_SPLITS = ('train', 'val')


def shape_outline(shape: str, size: float, aspect: float,
                  ellipse_points: int) -> np.ndarray:
    """Points (N, 2) of a shape centred at the origin that fits in a circle
    of diameter ``size``. ``aspect`` in [0.5, 1] deforms it (a shorter side,
    a flatter ellipse, jittered triangle angles, thicker cross bars)."""
    radius = size / 2
    if shape == 'rectangle':
        half_w = radius / math.sqrt(1 + aspect**2)
        half_h = half_w * aspect
        return np.array([[-half_w, -half_h], [half_w, -half_h],
                         [half_w, half_h], [-half_w, half_h]])
    if shape == 'ellipse':
        theta = np.linspace(0, 2 * math.pi, ellipse_points, endpoint=False)
        return np.stack(
            [radius * np.cos(theta), radius * aspect * np.sin(theta)], 1)
    if shape == 'triangle':
        jitter = (1 - aspect) * 0.6
        theta = np.array([0, 2 * math.pi / 3 + jitter,
                          4 * math.pi / 3 - jitter]) - math.pi / 2
        return np.stack([radius * np.cos(theta), radius * np.sin(theta)], 1)
    if shape == 'star':
        theta = np.arange(10) * math.pi / 5 - math.pi / 2
        radii = np.where(np.arange(10) % 2 == 0, radius, radius * 0.45)
        return np.stack([radii * np.cos(theta), radii * np.sin(theta)], 1)
    if shape == 'cross':
        arm = radius * (0.25 + 0.15 * aspect)  # half the bar width
        r = radius
        return np.array([[-arm, -r], [arm, -r], [arm, -arm], [r, -arm],
                         [r, arm], [arm, arm], [arm, r], [-arm, r],
                         [-arm, arm], [-r, arm], [-r, -arm], [-arm, -arm]])
    raise ValueError(f'Unknown toy shape {shape!r}; expected one of '
                     f'{SHAPES}.')


def reuse_or_clear(out_dir: Path, meta_file: Path, settings,
                   ann_files: Dict[str, Path], overwrite: bool, what: str,
                   tool: str,
                   progress: Optional[Callable[[str], None]] = None) -> bool:
    """Decide what to do with ``out_dir`` before a generator writes it.

    Returns True when it already holds the dataset with these ``settings``
    (the settings file ``meta_file`` matches and every annotation file
    exists) and ``overwrite`` is not set: nothing to write. Returns False
    when the generator may write: the folder is new or empty, or
    ``overwrite`` is set (then the settings file is removed first, so an
    interrupted rewrite reads as incomplete). ``overwrite`` rewrites the
    same dataset too: that repairs files damaged since they were written.
    Otherwise raises FileExistsError naming ``what`` (e.g. 'toy dataset')
    and the ``tool`` whose ``--overwrite`` replaces it; so it does, naming
    the path, when ``out_dir`` is a file (``overwrite`` or not).
    """
    _refuse_a_file(out_dir, what, tool)
    if meta_file.is_file():
        existing = json.loads(meta_file.read_text())
        complete = all(path.is_file() for path in ann_files.values())
        if existing == asdict(settings) and complete and not overwrite:
            if progress:
                progress(f'{out_dir} already holds the {what} with these '
                         'settings; nothing to do (--overwrite writes it '
                         'again).')
            return True
        if not overwrite:
            raise FileExistsError(
                f'{out_dir} holds a {what} written with other settings '
                f'({existing}) or an incomplete one. Pass overwrite=True '
                f'({tool} --overwrite) to replace it, or choose another '
                'output folder.')
        meta_file.unlink()
    elif out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise FileExistsError(
            f'{out_dir} exists and is not a {what} folder. Choose another '
            f'output folder or pass overwrite=True ({tool} --overwrite).')
    return False


def _refuse_a_file(out_dir: Path, what: str, tool: str) -> None:
    """Raise FileExistsError if ``out_dir``, or the nearest of its parents
    that exists, is not a folder: nothing can be written there, and the
    generator would stop with a NotADirectoryError traceback."""
    for path in (out_dir, *out_dir.parents):
        if path.exists():
            if path.is_dir():
                return
            where = ('is' if path == out_dir else
                     f'cannot be created: {path} is')
            raise FileExistsError(
                f'Output folder {out_dir} {where} an existing file, not a '
                f'folder. Choose another output folder for the {what} '
                f'(--out-dir of {tool}), or move the file away.')


def rewrite_command(tool: str, out_dir: str, default_out_dir: str,
                    meta_file: str, defaults, flags: Dict[str, str]) -> str:
    """The command line of ``tool`` that writes the toy dataset of
    ``out_dir`` again, with the settings its settings file ``meta_file``
    records (those the tool's ``flags`` can set, where they differ from
    ``defaults``), and ``--overwrite``."""
    options = []
    if osp.normpath(out_dir) != osp.normpath(default_out_dir):
        options += ['--out-dir', shlex.quote(out_dir)]
    try:
        settings = json.loads((Path(out_dir) / meta_file).read_text())
    except (OSError, ValueError):  # no settings file: the defaults
        settings = {}
    if not isinstance(settings, dict):
        settings = {}
    for field, default in asdict(defaults).items():
        value = settings.get(field, default)
        if value != default and field in flags:
            options += [flags[field], str(value)]
    return ' '.join([f'python {tool}'] + options + ['--overwrite'])


def raise_if_invalid(settings, what: str, problems: List[str]) -> None:
    """Raise ValueError listing the ``problems`` of the ``what`` settings
    (e.g. 'toy COCO'), if there are any."""
    if problems:
        raise ValueError(f'Invalid {what} settings: ' + '; '.join(problems) +
                         f' (got {settings}).')


def canvas_problems(settings, min_size: str, max_size: str,
                    smallest: int) -> List[str]:
    """What is wrong with the settings of a COCO generator that places
    ``min_objects`` to ``max_objects`` objects on square images, with sizes
    between the fields named ``min_size`` and ``max_size``, at least
    ``smallest``."""
    problems = []
    if settings.num_train < 1 or settings.num_val < 1:
        problems.append('num_train and num_val must be at least 1')
    if settings.image_size < 32:
        problems.append('image_size must be at least 32 (mmdet drops '
                        'smaller images by default)')
    if not 1 <= settings.min_objects <= settings.max_objects:
        problems.append('need 1 <= min_objects <= max_objects')
    if not smallest <= getattr(settings, min_size) <= getattr(
            settings, max_size):
        problems.append(f'need {smallest} <= {min_size} <= {max_size}')
    if getattr(settings, max_size) > settings.image_size:
        problems.append(f'{max_size} must not exceed image_size')
    return problems


def write_dataset(out_dir, settings, meta_name: str,
                  ann_files_of: Callable[[Path], Dict[str, Path]],
                  write: Callable[[Path], None], overwrite: bool, what: str,
                  tool: str,
                  progress: Optional[Callable[[str], None]] = None
                  ) -> Dict[str, Path]:
    """What every generator does around its drawing: check ``settings``,
    keep a folder that already holds this dataset (:func:`reuse_or_clear`,
    whose arguments these are), else ``write(out_dir)`` the files and then
    the settings file ``meta_name``.

    Returns:
        The annotation files, ``ann_files_of(out_dir)``.
    """
    settings.validate()
    out_dir = Path(out_dir)
    meta_file = out_dir / meta_name
    ann_files = ann_files_of(out_dir)
    if reuse_or_clear(out_dir, meta_file, settings, ann_files, overwrite,
                      what, tool, progress):
        return ann_files
    write(out_dir)
    # Written last: its presence marks a complete dataset.
    meta_file.write_text(json.dumps(asdict(settings), indent=2))
    return ann_files


def coco_ann_files(out_dir: Path) -> Dict[str, Path]:
    """The annotation file of each split of a dataset in COCO's layout."""
    return {
        split: out_dir / 'annotations' / f'instances_{folder}.json'
        for split, folder in COCO_SPLITS.items()
    }


def write_coco(out_dir: Path, counts: Dict[str, int], image_size: int,
               draw: Callable[[str, int], Tuple[np.ndarray, List[dict]]],
               description: str, classes: Sequence[str], supercategory: str,
               progress: Optional[Callable[[str], None]] = None) -> None:
    """Write ``counts[split]`` square images of each split in COCO's layout.

    ``draw(split, index)`` gives an image as cv2 writes it (BGR or grey) and
    its annotations without ids; ``description`` (``{split}`` is filled in)
    goes into each annotation file's info.
    """
    # Remove stale images of a previous, larger dataset.
    for folder in COCO_SPLITS.values():
        for old in (out_dir / folder).glob('*.png'):
            old.unlink()
    ann_files = coco_ann_files(out_dir)
    for split, num_images in counts.items():
        image_dir = out_dir / COCO_SPLITS[split]
        if progress:
            progress(f'drawing {num_images} {split} images into {image_dir}')
        image_dir.mkdir(parents=True, exist_ok=True)
        images, annotations = [], []
        for index in range(num_images):
            image, image_annotations = draw(split, index)
            file_name = f'{index:06d}.png'
            cv2.imwrite(str(image_dir / file_name), image)
            image_id = index + 1
            images.append(
                dict(id=image_id, file_name=file_name, height=image_size,
                     width=image_size))
            for annotation in image_annotations:
                annotations.append(
                    dict(id=len(annotations) + 1, image_id=image_id,
                         **annotation))
        coco = dict(
            info=dict(description=description.format(split=split),
                      version='1.0'),
            licenses=[],
            images=images,
            annotations=annotations,
            categories=[
                dict(id=i + 1, name=name, supercategory=supercategory)
                for i, name in enumerate(classes)
            ])
        ann_files[split].parent.mkdir(parents=True, exist_ok=True)
        ann_files[split].write_text(json.dumps(coco))


def cls_ann_files(out_dir: Path) -> Dict[str, Path]:
    """The list file (meta/<split>.txt) of each split of a dataset in
    ImageNet's folder layout."""
    return {split: out_dir / 'meta' / f'{split}.txt' for split in CLS_SPLITS}


def write_class_folders(split_dir: Path, ann_file: Path,
                        samples: Iterable[Tuple[str, str, int, np.ndarray]]
                        ) -> None:
    """Write one split in ImageNet's folder layout: each sample (class name,
    file name, label, image as cv2 writes it) to
    ``split_dir/<class>/<file>``, and the lines ``<class>/<file> <label>``
    to ``ann_file``. Images of an earlier, larger dataset are removed
    first."""
    for old in split_dir.glob('*/*.png'):
        old.unlink()
    lines = []
    for name, file_name, label, image in samples:
        class_dir = split_dir / name
        class_dir.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(class_dir / file_name), image)
        lines.append(f'{name}/{file_name} {label}')
    ann_file.parent.mkdir(parents=True, exist_ok=True)
    ann_file.write_text('\n'.join(lines) + '\n')
