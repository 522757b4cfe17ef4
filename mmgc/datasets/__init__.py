"""Datasets shipped with mmgc.

:mod:`mmgc.datasets.toy_coco` draws a small COCO-format detection and
instance-segmentation dataset, so the detection pipeline runs without COCO;
:mod:`mmgc.datasets.checks` tells a user what to do when data is missing.
"""
from .checks import check_dataset_files, missing_dataset_files
from .toy_coco import (TOY_COCO_CLASSES, ToyCocoSettings, draw_toy_image,
                       generate_toy_coco)

__all__ = [
    'check_dataset_files', 'missing_dataset_files', 'TOY_COCO_CLASSES',
    'ToyCocoSettings', 'draw_toy_image', 'generate_toy_coco'
]
