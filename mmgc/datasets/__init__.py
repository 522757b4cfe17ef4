"""Datasets shipped with mmgc.

:mod:`mmgc.datasets.toy_coco` draws a small COCO-format detection and
instance-segmentation dataset, so the detection pipeline runs without COCO;
:mod:`mmgc.datasets.toy_cls` draws a small image-classification dataset in
ImageNet's folder layout; :mod:`mmgc.datasets.checks` (with ``coco_checks``
for annotation files and ``cls_checks`` for mmpretrain configs) tells a user
what to do when data is missing or cannot be used.
"""
from .checks import check_dataset_files, missing_dataset_files
from .cls_checks import (check_classification_files,
                         check_classification_labels,
                         missing_classification_files)
from .toy_coco import (TOY_COCO_CLASSES, ToyCocoSettings, draw_toy_image,
                       generate_toy_coco)
from .toy_cls import (TOY_CLS_CLASSES, ToyClsSettings, draw_toy_cls_image,
                      generate_toy_cls)

__all__ = [
    'check_dataset_files', 'missing_dataset_files', 'TOY_COCO_CLASSES',
    'ToyCocoSettings', 'draw_toy_image', 'generate_toy_coco',
    'check_classification_files', 'check_classification_labels',
    'missing_classification_files',
    'TOY_CLS_CLASSES', 'ToyClsSettings', 'draw_toy_cls_image',
    'generate_toy_cls'
]
