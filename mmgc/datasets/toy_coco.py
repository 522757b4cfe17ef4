"""A small, deterministic COCO-format dataset of coloured shapes.

It lets anyone run the detection pipeline end to end (train, COCO evaluation,
the GC comparison) without COCO or a GPU. The layout mirrors COCO's, so any
COCO config runs on it once ``data_root`` and the class names are changed::

    <out_dir>/
        annotations/instances_train2017.json
        annotations/instances_val2017.json
        train2017/000000.png ...
        val2017/000000.png ...
        toy_coco_meta.json        # the generator settings, for re-runs

Every image is drawn from its own random generator seeded by
``(seed, split, index)``, so a given setting always writes the same files
(PNG, so no encoder differences), whatever the order or number of images.

Objects overlap: shapes drawn later occlude earlier ones, and the annotation
of each object (polygons, box, area) describes only its visible part. A shape
is placed only if every object keeps at least ``MIN_VISIBLE_FRACTION`` of its
area visible, so no object is hidden behind others.
"""
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

from .toy_common import (canvas_problems, coco_ann_files, raise_if_invalid,
                         shape_outline, write_coco, write_dataset)

TOY_COCO_CLASSES = ('rectangle', 'ellipse', 'triangle', 'star')

META_FILE = 'toy_coco_meta.json'
MIN_VISIBLE_FRACTION = 0.5
# Visible fragments smaller than this (pixels) are dropped from annotations.
MIN_ANNOTATION_AREA = 16
_SPLIT_IDS = {'train': 0, 'val': 1}
# Sub-pixel precision for cv2.fillPoly (coordinates are scaled by 2**shift).
_SHIFT = 4


@dataclass(frozen=True)
class ToyCocoSettings:
    """What the generator draws; saved beside the data so re-runs can tell
    whether existing files match."""
    num_train: int = 400
    num_val: int = 100
    image_size: int = 128
    min_objects: int = 1
    max_objects: int = 6
    min_object_size: float = 14.0
    max_object_size: float = 60.0
    seed: int = 0

    def validate(self) -> None:
        raise_if_invalid(
            self, 'toy COCO',
            canvas_problems(self, 'min_object_size', 'max_object_size', 4))


def _shape_polygon(shape: str, center: np.ndarray, size: float, aspect: float,
                   angle: float) -> np.ndarray:
    """Outline of one shape as an (N, 2) float array of (x, y) points,
    rotated by ``angle`` and moved to ``center``; ``size`` is the diameter
    of the circle the shape fits in."""
    points = shape_outline(shape, size, aspect, ellipse_points=48)
    rotation = np.array([[math.cos(angle), -math.sin(angle)],
                         [math.sin(angle), math.cos(angle)]])
    return points @ rotation.T + center


def _fill_mask(polygon: np.ndarray, image_size: int) -> np.ndarray:
    mask = np.zeros((image_size, image_size), np.uint8)
    fixed_point = np.round(polygon * (1 << _SHIFT)).astype(np.int32)
    cv2.fillPoly(mask, [fixed_point], 1, lineType=cv2.LINE_8, shift=_SHIFT)
    return mask.astype(bool)


def _hsv_to_rgb(hue: float, saturation: float, value: float) -> np.ndarray:
    hsv = np.array([[[hue * 179, saturation * 255, value * 255]]], np.float32)
    rgb = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)
    return rgb[0, 0].astype(np.float32)


def _background(rng: np.random.Generator, image_size: int) -> np.ndarray:
    """Dark, smoothly varying background with a little texture."""
    corners = np.stack([
        _hsv_to_rgb(rng.uniform(), rng.uniform(0.2, 0.7),
                    rng.uniform(0.1, 0.4)) for _ in range(4)
    ]).reshape(2, 2, 3)
    image = cv2.resize(corners, (image_size, image_size),
                       interpolation=cv2.INTER_LINEAR)
    texture = rng.normal(0, 1, (image_size // 8, image_size // 8, 1))
    texture = cv2.resize(texture.astype(np.float32), (image_size, image_size),
                         interpolation=cv2.INTER_CUBIC)[..., None]
    return image + 12 * texture


def _visible_masks(masks: List[np.ndarray]) -> List[np.ndarray]:
    """Each object minus everything drawn after it."""
    visible = []
    covered = np.zeros_like(masks[0]) if masks else None
    for mask in reversed(masks):
        visible.append(mask & ~covered)
        covered = covered | mask
    return visible[::-1]


def _mask_to_polygons(mask: np.ndarray) -> List[List[float]]:
    contours, _ = cv2.findContours(
        mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polygons = []
    for contour in contours:
        # A polygon needs three points; slivers of a few pixels are noise.
        if len(contour) < 3 or cv2.contourArea(contour) < 2:
            continue
        # Pixel centres are at +0.5 in COCO's continuous coordinates.
        points = contour.reshape(-1, 2).astype(np.float64) + 0.5
        polygons.append([round(float(v), 2) for v in points.reshape(-1)])
    return polygons


def draw_toy_image(settings: ToyCocoSettings, split: str,
                   index: int) -> Tuple[np.ndarray, List[dict]]:
    """Draw one image.

    Returns:
        The RGB image (H, W, 3) uint8 and a list of annotation dicts with
        ``category_id`` (1-based), ``segmentation`` (polygons), ``bbox``
        (x, y, w, h) and ``area``, without ids.
    """
    rng = np.random.default_rng([settings.seed, _SPLIT_IDS[split], index])
    size = settings.image_size
    image = _background(rng, size)
    num_objects = int(
        rng.integers(settings.min_objects, settings.max_objects + 1))
    objects: List[Tuple[int, np.ndarray]] = []
    for _ in range(num_objects):
        for _attempt in range(20):
            category = int(rng.integers(len(TOY_COCO_CLASSES)))
            # Log-uniform sizes: as many small objects as large ones.
            object_size = math.exp(
                rng.uniform(math.log(settings.min_object_size),
                            math.log(settings.max_object_size)))
            margin = object_size / 2
            center = rng.uniform(margin, size - margin, 2)
            polygon = _shape_polygon(TOY_COCO_CLASSES[category], center,
                                     object_size, rng.uniform(0.5, 1.0),
                                     rng.uniform(0, 2 * math.pi))
            mask = _fill_mask(polygon, size)
            candidate = [m for _, m in objects] + [mask]
            visible = _visible_masks(candidate)
            if all(v.sum() >= MIN_VISIBLE_FRACTION * max(m.sum(), 1)
                   for v, m in zip(visible, candidate)):
                objects.append((category, mask))
                break
    for _, mask in objects:
        colour = _hsv_to_rgb(rng.uniform(), rng.uniform(0.5, 1.0),
                             rng.uniform(0.65, 1.0))
        # A linear light gradient across the image shades each object.
        direction = rng.normal(size=2)
        ys, xs = np.nonzero(mask)
        shade = 1 + 0.15 * ((xs - size / 2) * direction[0] +
                            (ys - size / 2) * direction[1]) / size
        image[ys, xs] = colour[None] * shade[:, None]
    image = image + rng.normal(0, 4, image.shape)
    image = np.clip(np.round(image), 0, 255).astype(np.uint8)

    annotations = []
    visible = _visible_masks([m for _, m in objects]) if objects else []
    for (category, _), mask in zip(objects, visible):
        area = int(mask.sum())
        polygons = _mask_to_polygons(mask)
        if area < MIN_ANNOTATION_AREA or not polygons:
            continue
        ys, xs = np.nonzero(mask)
        x0, y0 = int(xs.min()), int(ys.min())
        annotations.append(
            dict(
                category_id=category + 1,
                segmentation=polygons,
                bbox=[x0, y0, int(xs.max()) - x0 + 1,
                      int(ys.max()) - y0 + 1],
                area=float(area),
                iscrowd=0))
    return image, annotations


def generate_toy_coco(out_dir,
                      settings: Optional[ToyCocoSettings] = None,
                      overwrite: bool = False,
                      progress=None) -> Dict[str, Path]:
    """Write the toy dataset to ``out_dir`` (see the module docstring).

    If ``out_dir`` already holds a dataset written with the same settings,
    nothing is rewritten. Existing data is only replaced with
    ``overwrite=True``, which also writes the same dataset again (to repair
    a damaged file).

    Args:
        out_dir: Target folder, e.g. ``data/toy_coco``.
        settings: What to draw; the defaults are what the toy configs use.
        overwrite: Replace the data in ``out_dir``, whatever its settings.
        progress: Optional callable taking one message string.

    Returns:
        Paths of the ``train`` and ``val`` annotation files.
    """
    settings = settings or ToyCocoSettings()

    def draw(split: str, index: int):
        image, annotations = draw_toy_image(settings, split, index)
        return image[..., ::-1], annotations  # cv2 writes BGR

    def write(out_dir: Path) -> None:
        write_coco(out_dir,
                   dict(train=settings.num_train, val=settings.num_val),
                   settings.image_size, draw, 'mmgc toy COCO ({split})',
                   TOY_COCO_CLASSES, 'shape', progress)

    return write_dataset(out_dir, settings, META_FILE, coco_ann_files, write,
                         overwrite, 'toy dataset',
                         'tools/generate_toy_data.py', progress)
