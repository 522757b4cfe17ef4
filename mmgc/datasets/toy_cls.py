"""A small, deterministic image-classification dataset in ImageNet's layout.

It lets the classification pipeline (mmpretrain's ``ImageNet`` dataset class,
``Accuracy`` metric, tools/train.py, tools/compare.py) run on a CPU in
minutes. The files are laid out as mmpretrain documents ImageNet::

    <out_dir>/
        train/<class>/<class>_00000.png ...
        val/<class>/<class>_00000.png ...
        meta/train.txt            # "<class>/<class>_00000.png <label>" lines
        meta/val.txt
        toy_cls_meta.json         # the generator settings, for re-runs

so ``dict(type='ImageNet', data_root=..., split='train',
metainfo=dict(classes=TOY_CLS_CLASSES))`` reads it, and so does
``CustomDataset`` (one sub-folder per class).

Ten classes: five shapes, each drawn filled or as an outline, with a random
colour, size, rotation and position, on a textured background with small
clutter blobs and pixel noise. Every image comes from its own random
generator seeded by ``(seed, split, class, index)``, so a given setting always
writes the same files (PNG, lossless).
"""
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

import cv2
import numpy as np

from .toy_common import (SHAPES, cls_ann_files, raise_if_invalid,
                         shape_outline, write_class_folders, write_dataset)

# Alphabetical, so that class folders sorted by name (CustomDataset's order)
# give the same labels as meta/*.txt.
TOY_CLS_CLASSES = tuple(
    f'{shape}{suffix}' for shape in SHAPES
    for suffix in ('', '-outline'))
META_FILE = 'toy_cls_meta.json'
_SPLIT_IDS = {'train': 0, 'val': 1}
_SHIFT = 4  # sub-pixel precision of cv2 drawing (coordinates * 2**shift)


@dataclass(frozen=True)
class ToyClsSettings:
    """What the generator draws; saved beside the data so re-runs can tell
    whether existing files match."""
    num_train_per_class: int = 100
    num_val_per_class: int = 30
    image_size: int = 32
    seed: int = 0

    def validate(self) -> None:
        problems = []
        if self.num_train_per_class < 1 or self.num_val_per_class < 1:
            problems.append('num_train_per_class and num_val_per_class '
                            'must be at least 1')
        if self.image_size < 16:
            problems.append('image_size must be at least 16')
        raise_if_invalid(self, 'toy classification', problems)


def _colour(rng: np.random.Generator, low: float, high: float) -> np.ndarray:
    hsv = np.array([[[rng.uniform() * 179, rng.uniform(0.4, 1.0) * 255,
                      rng.uniform(low, high) * 255]]], np.float32)
    return cv2.cvtColor(hsv.astype(np.uint8),
                        cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def draw_toy_cls_image(settings: ToyClsSettings, split: str, label: int,
                       index: int) -> np.ndarray:
    """Draw one RGB image (H, W, 3) uint8 of class ``label``."""
    rng = np.random.default_rng(
        [settings.seed, _SPLIT_IDS[split], label, index])
    size = settings.image_size
    shape, outlined = SHAPES[label // 2], label % 2 == 1

    # Background: a dark two-colour gradient with coarse texture.
    corners = np.stack([_colour(rng, 0.05, 0.45) for _ in range(4)])
    image = cv2.resize(corners.reshape(2, 2, 3), (size, size),
                       interpolation=cv2.INTER_LINEAR)
    texture = rng.normal(0, 1, (max(size // 8, 2), max(size // 8, 2), 1))
    image = image + 18 * cv2.resize(
        texture.astype(np.float32), (size, size),
        interpolation=cv2.INTER_CUBIC)[..., None]

    # Clutter: a few small blobs that belong to no class.
    for _ in range(int(rng.integers(0, 4))):
        centre = rng.uniform(0, size, 2)
        radius = rng.uniform(0.04, 0.1) * size
        cv2.circle(image, tuple(int(v * (1 << _SHIFT)) for v in centre),
                   int(radius * (1 << _SHIFT)),
                   _colour(rng, 0.3, 0.9).tolist(), -1, cv2.LINE_AA,
                   _SHIFT)

    object_size = rng.uniform(0.45, 0.9) * size
    angle = rng.uniform(0, 2 * math.pi)
    rotation = np.array([[math.cos(angle), -math.sin(angle)],
                         [math.sin(angle), math.cos(angle)]])
    margin = object_size / 2
    centre = rng.uniform(margin, size - margin, 2)
    points = shape_outline(shape, object_size, rng.uniform(0.5, 1.0),
                           ellipse_points=40)
    points = points @ rotation.T + centre
    fixed_point = np.round(points * (1 << _SHIFT)).astype(np.int32)
    colour = _colour(rng, 0.6, 1.0).tolist()
    if outlined:
        thickness = int(rng.integers(1, 3))
        cv2.polylines(image, [fixed_point], True, colour, thickness,
                      cv2.LINE_AA, _SHIFT)
    else:
        cv2.fillPoly(image, [fixed_point], colour, cv2.LINE_AA, _SHIFT)

    image = image + rng.normal(0, 8, image.shape)
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def generate_toy_cls(out_dir,
                     settings: Optional[ToyClsSettings] = None,
                     overwrite: bool = False,
                     progress=None) -> Dict[str, Path]:
    """Write the toy classification dataset to ``out_dir``.

    If ``out_dir`` already holds a dataset written with the same settings,
    nothing is rewritten; other data is replaced only with
    ``overwrite=True``, which also writes the same dataset again (to repair
    a damaged file).

    Returns:
        Paths of the ``train`` and ``val`` annotation files (meta/*.txt).
    """
    settings = settings or ToyClsSettings()
    counts = {'train': settings.num_train_per_class,
              'val': settings.num_val_per_class}

    def samples(split: str):
        for label, name in enumerate(TOY_CLS_CLASSES):
            for index in range(counts[split]):
                image = draw_toy_cls_image(settings, split, label, index)
                yield (name, f'{name}_{index:05d}.png', label,
                       image[..., ::-1])  # cv2 writes BGR

    def write(out_dir: Path) -> None:
        for split, ann_file in cls_ann_files(out_dir).items():
            if progress:
                progress(f'drawing {counts[split] * len(TOY_CLS_CLASSES)} '
                         f'{split} images into {out_dir / split}')
            write_class_folders(out_dir / split, ann_file, samples(split))

    return write_dataset(out_dir, settings, META_FILE, cls_ann_files, write,
                         overwrite, 'toy classification dataset',
                         'tools/generate_toy_cls.py', progress)
