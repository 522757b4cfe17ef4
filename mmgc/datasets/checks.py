"""Check, before a Runner is built, that the dataset files of a config exist.

Without this, a missing COCO folder surfaces as a bare FileNotFoundError deep
inside dataset construction, after the model has been built. Here the error
names every missing path and says how to get the data: the command that
writes the built-in toy dataset, or where COCO must be.
"""
import os
import os.path as osp
from typing import Iterable, List

TOY_DATA_COMMAND = 'python tools/generate_toy_data.py'
COCO_LAYOUT = ('data/coco/annotations/instances_train2017.json, '
               'data/coco/annotations/instances_val2017.json, '
               'data/coco/train2017/ and data/coco/val2017/')

# Which config entries each split reads.
_SPLIT_KEYS = {
    'train': ('train_dataloader', None, None),
    'val': ('val_dataloader', 'val_evaluator', 'val_cfg'),
    'test': ('test_dataloader', 'test_evaluator', 'test_cfg'),
}


def _is_remote(path: str) -> bool:
    return '://' in path


def _join(root, path):
    if not path or osp.isabs(path) or _is_remote(path) or not root:
        return path
    return osp.join(root, path)


def _dataset_paths(dataset_cfg) -> List[str]:
    """Files (ann_file) and folders (data_prefix) one dataset config reads.

    Dataset wrappers (RepeatDataset, ConcatDataset, ...) are followed.
    """
    if not isinstance(dataset_cfg, dict):
        return []
    paths = []
    if 'dataset' in dataset_cfg:
        paths += _dataset_paths(dataset_cfg['dataset'])
    for inner in dataset_cfg.get('datasets', []) or []:
        paths += _dataset_paths(inner)
    root = dataset_cfg.get('data_root') or ''
    ann_file = dataset_cfg.get('ann_file')
    if ann_file:
        paths.append(_join(root, ann_file))
    prefix = dataset_cfg.get('data_prefix') or {}
    if isinstance(prefix, dict):
        for folder in prefix.values():
            if isinstance(folder, str) and folder:
                paths.append(_join(root, folder))
    return paths


def _evaluator_paths(evaluator_cfg) -> List[str]:
    evaluators = (evaluator_cfg if isinstance(evaluator_cfg, (list, tuple))
                  else [evaluator_cfg])
    return [
        e['ann_file'] for e in evaluators
        if isinstance(e, dict) and isinstance(e.get('ann_file'), str)
    ]


def missing_dataset_files(cfg, splits: Iterable[str]) -> List[str]:
    """Local dataset paths of ``cfg`` for ``splits`` that do not exist."""
    missing = []
    for split in splits:
        if split not in _SPLIT_KEYS:
            raise ValueError(f'Unknown split {split!r}; expected one of '
                             f'{sorted(_SPLIT_KEYS)}.')
        loader_key, evaluator_key, loop_key = _SPLIT_KEYS[split]
        # Runner builds the val/test loops only when their loop cfg is set.
        if loop_key and cfg.get(loop_key) is None:
            continue
        paths = _dataset_paths((cfg.get(loader_key) or {}).get('dataset'))
        if evaluator_key:
            paths += _evaluator_paths(cfg.get(evaluator_key))
        for path in paths:
            if _is_remote(path) or os.path.exists(path):
                continue
            if path not in missing:
                missing.append(path)
    return missing


def _train_dataset(cfg) -> dict:
    dataset = (cfg.get('train_dataloader') or {}).get('dataset') or {}
    while isinstance(dataset, dict) and 'dataset' in dataset:
        dataset = dataset['dataset']  # RepeatDataset and similar wrappers
    return dataset if isinstance(dataset, dict) else {}


def _reads_toy_data(cfg, missing: List[str]) -> bool:
    from .toy_coco import TOY_COCO_CLASSES
    classes = (_train_dataset(cfg).get('metainfo') or {}).get('classes')
    return (any('toy_coco' in path for path in missing)
            or (classes is not None
                and tuple(classes) == tuple(TOY_COCO_CLASSES)))


def _reads_coco(cfg, missing: List[str]) -> bool:
    return (_train_dataset(cfg).get('type') == 'CocoDataset'
            or any('coco' in path for path in missing))


def check_dataset_files(cfg, splits: Iterable[str] = ('train', 'val')):
    """Raise FileNotFoundError, saying how to get the data, if any file or
    folder the config reads for ``splits`` is missing."""
    from .cls_checks import check_classification_files, \
        is_classification_config
    if is_classification_config(cfg):  # mmpretrain datasets name no files
        return check_classification_files(cfg, splits)
    missing = missing_dataset_files(cfg, splits)
    if not missing:
        return
    listing = '\n'.join(f'  - {path}' for path in missing)
    where = (f'Paths in configs are relative to the current directory '
             f'({os.getcwd()}); run the tools from the repository root.')
    if _reads_toy_data(cfg, missing):
        advice = (f'This is the built-in toy dataset. Generate it with:\n'
                  f'  {TOY_DATA_COMMAND}\n'
                  f'(it writes data/toy_coco/ in about ten seconds).')
    elif _reads_coco(cfg, missing):
        advice = (
            f'COCO 2017 must be at {COCO_LAYOUT} (download it from '
            'https://cocodataset.org or link an existing copy with '
            '"ln -s /path/to/coco data/coco"), or point the config at it '
            'with --cfg-options (data_root of each dataloader and ann_file '
            'of the evaluators). Without COCO, the toy configs in '
            'configs/toy/ '
            f'run on the built-in dataset ({TOY_DATA_COMMAND}).')
    else:
        advice = ('Check data_root, ann_file and data_prefix of the '
                  'dataloaders and ann_file of the evaluators.')
    raise FileNotFoundError(
        f'Dataset files of {getattr(cfg, "filename", "the config")} are '
        f'missing:\n{listing}\n{advice}\n{where}')
