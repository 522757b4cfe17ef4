"""Datasets shipped with mmgc.

:mod:`mmgc.datasets.toy_coco` draws a small COCO-format detection and
instance-segmentation dataset, so the detection pipeline runs without COCO.
"""
from .toy_coco import (TOY_COCO_CLASSES, ToyCocoSettings, draw_toy_image,
                       generate_toy_coco)

__all__ = [
    'TOY_COCO_CLASSES', 'ToyCocoSettings', 'draw_toy_image',
    'generate_toy_coco'
]
