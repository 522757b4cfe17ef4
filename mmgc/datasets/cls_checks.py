"""Before a classification Runner is built: are the data and weights there?

mmpretrain's dataset classes derive their files from ``data_root`` and
``split`` (CIFAR's pickled batches, CUB's index files, ...), so a missing
dataset surfaces only inside dataset construction, after the model has been
built, and CIFAR would even try to download itself. Here every file and
folder the config's datasets will read is listed up front, and the error says
where each dataset comes from. Local ``Pretrained`` checkpoints named in the
model (the fine-grained configs' ImageNet weights) are checked the same way:
nothing is downloaded at run time.
"""
import os
import os.path as osp
from typing import Iterable, List, Tuple

TOY_CLS_COMMAND = 'python tools/generate_toy_cls.py'

# Where each dataset comes from and how it must be laid out.
_CIFAR100 = ('CIFAR-100 (python version): download '
             'https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz and '
             'extract it into {root}/ (it holds cifar-100-python/).')
_CIFAR10 = ('CIFAR-10 (python version): download '
            'https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz and '
            'extract it into {root}/ (it holds cifar-10-batches-py/).')
_IMAGENET = ('ImageNet (ILSVRC2012) from https://image-net.org, prepared as '
             "mmpretrain documents: {root}/train/<wnid>/*.JPEG, "
             '{root}/val/*.JPEG and the lists {root}/meta/train.txt, '
             '{root}/meta/val.txt ("<relative path> <label>" lines).')
_CUB = ('CUB-200-2011: download CUB_200_2011.tgz from '
        'https://www.vision.caltech.edu/datasets/cub_200_2011/ and extract '
        'it so that {root}/images.txt exists.')
_CARS = ('Stanford Cars from '
         'https://ai.stanford.edu/~jkrause/cars/car_dataset.html in {root}/: '
         'car_ims/ + cars_annos.mat, or cars_train/, cars_test/ and devkit/ '
         'with cars_train_annos.mat and cars_test_annos_withlabels.mat.')
_AIRCRAFT = ('FGVC Aircraft: download fgvc-aircraft-2013b.tar.gz from '
             'https://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/ and '
             'extract it so that {root}/data/images/ exists.')
_DOGS = ('Stanford Dogs from '
         'http://vision.stanford.edu/aditya86/ImageNetDogs/ (images.tar '
         'and lists.tar), arranged by the official train/test '
         'lists (train_list.mat, test_list.mat) as one folder per breed: '
         '{root}/train/<breed>/*.jpg and {root}/test/<breed>/*.jpg.')
_MINI = ('Mini-ImageNet as split by the Gradient Centralization authors '
         '(100 classes, 500 training and 100 test images each; the link is in '
         "their repository's README, "
         'https://github.com/Yonghongwei/Gradient-Centralization), one folder '
         'per class: {root}/train/<class>/*.jpg and {root}/val/<class>/*.jpg.')
_TOY = (f'This is the built-in toy dataset. Generate it with:\n  '
        f'{TOY_CLS_COMMAND}\n(it writes data/toy_cls/ in a few seconds).')

# Local weights the configs may name, and where to download them.
KNOWN_CHECKPOINTS = {
    'resnet50-19c8e357.pth':
    'https://download.pytorch.org/models/resnet50-19c8e357.pth',
}

_SPLIT_KEYS = {
    'train': ('train_dataloader', None),
    'val': ('val_dataloader', 'val_cfg'),
    'test': ('test_dataloader', 'test_cfg'),
}


def is_classification_config(cfg) -> bool:
    return cfg.get('default_scope') == 'mmpretrain'


def _join(root: str, *parts: str) -> str:
    parts = [p for p in parts if p]
    return osp.join(root, *parts) if root else osp.join(*parts)


def _prefix(dataset_cfg) -> str:
    prefix = dataset_cfg.get('data_prefix') or ''
    if isinstance(prefix, dict):
        prefix = prefix.get('img_path') or prefix.get('root') or ''
    return prefix


def expected_files(dataset_cfg) -> Tuple[List[List[str]], str]:
    """What one dataset config reads, and where that data comes from.

    Returns a list of requirements, each a list of alternatives (a
    requirement is met when any of its paths exists), and the advice text.
    """
    kind = dataset_cfg.get('type', '')
    kind = kind.split('.')[-1] if isinstance(kind, str) else ''
    root = dataset_cfg.get('data_root') or ''
    split = dataset_cfg.get('split') or ''
    if kind in ('CIFAR100', 'CIFAR10'):
        root = root or _prefix(dataset_cfg)
        test = split == 'test' or (not split
                                   and dataset_cfg.get('test_mode', False))
        if kind == 'CIFAR100':
            folder = 'cifar-100-python'
            files = ['test' if test else 'train', 'meta']
            advice = _CIFAR100
        else:
            folder = 'cifar-10-batches-py'
            files = (['test_batch'] if test else
                     [f'data_batch_{i}' for i in range(1, 6)]) + [
                         'batches.meta']
            advice = _CIFAR10
        return [[_join(root, folder, f)] for f in files], advice.format(
            root=root)
    if kind == 'CUB':
        return [[_join(root, f)] for f in (
            'images.txt', 'image_class_labels.txt', 'train_test_split.txt',
            'images/')], _CUB.format(root=root)
    if kind == 'StanfordCars':
        devkit = ('cars_test_annos_withlabels.mat' if split == 'test' else
                  'cars_train_annos.mat')
        images = 'cars_test/' if split == 'test' else 'cars_train/'
        return [[_join(root, 'cars_annos.mat'),
                 _join(root, 'devkit', devkit)],
                [_join(root, 'car_ims/'), _join(root, images)]
                ], _CARS.format(root=root)
    if kind == 'FGVCAircraft':
        split = split or 'trainval'
        return [[_join(root, 'data', f'images_variant_{split}.txt')],
                [_join(root, 'data', 'images/')]], _AIRCRAFT.format(root=root)

    # Folder-based classes: ImageNet (split / ann_file) and CustomDataset.
    prefix = _prefix(dataset_cfg) or split
    ann_file = dataset_cfg.get('ann_file') or ''
    if not ann_file and kind == 'ImageNet' and split:
        ann_file = _join('meta', f'{split}.txt')
    needed = []
    if ann_file:
        needed.append([ann_file if osp.isabs(ann_file) else
                       _join(root, ann_file)])
    if prefix:
        needed.append([_join(root, prefix) + '/'])
    name = osp.basename(osp.normpath(root)) if root else ''
    if 'toy_cls' in name:
        advice = _TOY
    elif kind == 'ImageNet':
        advice = _IMAGENET.format(root=root)
    elif 'dogs' in name.lower():
        advice = _DOGS.format(root=root)
    elif 'mini' in name.lower():
        advice = _MINI.format(root=root)
    else:
        advice = ('Check data_root, data_prefix and ann_file of the '
                  'dataloaders.')
    return needed, advice


def _inner_datasets(dataset_cfg) -> List[dict]:
    if not isinstance(dataset_cfg, dict):
        return []
    if 'dataset' in dataset_cfg:  # RepeatDataset, ClassBalancedDataset, ...
        return _inner_datasets(dataset_cfg['dataset'])
    if 'datasets' in dataset_cfg:
        return [d for inner in dataset_cfg['datasets']
                for d in _inner_datasets(inner)]
    return [dataset_cfg]


def _pretrained_checkpoints(value) -> List[str]:
    """Local checkpoint paths of every Pretrained init_cfg in ``value``."""
    found = []
    if isinstance(value, dict):
        if value.get('type') == 'Pretrained' and isinstance(
                value.get('checkpoint'), str):
            found.append(value['checkpoint'])
        for inner in value.values():
            found += _pretrained_checkpoints(inner)
    elif isinstance(value, (list, tuple)):
        for inner in value:
            found += _pretrained_checkpoints(inner)
    return found


def missing_classification_files(cfg, splits: Iterable[str]
                                 ) -> List[Tuple[str, str]]:
    """(path, advice) of everything ``cfg`` reads for ``splits`` that does
    not exist; the pretrained weights are checked for the train split."""
    missing, seen = [], set()
    for split in splits:
        if split not in _SPLIT_KEYS:
            raise ValueError(f'Unknown split {split!r}; expected one of '
                             f'{sorted(_SPLIT_KEYS)}.')
        loader_key, loop_key = _SPLIT_KEYS[split]
        # The Runner builds val/test loops only when their loop cfg is set.
        if loop_key and cfg.get(loop_key) is None:
            continue
        dataset_cfg = (cfg.get(loader_key) or {}).get('dataset')
        for dataset in _inner_datasets(dataset_cfg):
            needed, advice = expected_files(dataset)
            for alternatives in needed:
                if any('://' in p or osp.exists(p) for p in alternatives):
                    continue
                path = ' or '.join(alternatives)
                if path not in seen:
                    seen.add(path)
                    missing.append((path, advice))
    if 'train' in splits:
        for checkpoint in _pretrained_checkpoints(cfg.get('model')):
            if '://' in checkpoint or osp.exists(checkpoint):
                continue
            url = KNOWN_CHECKPOINTS.get(osp.basename(checkpoint))
            advice = (f'Pretrained weights: download {url} to {checkpoint}.'
                      if url else
                      f'Pretrained weights: put the checkpoint at '
                      f'{checkpoint} or change init_cfg.checkpoint.')
            if checkpoint not in seen:
                seen.add(checkpoint)
                missing.append((checkpoint, advice))
    return missing


def check_classification_files(cfg, splits: Iterable[str] = ('train', 'val')
                               ) -> None:
    """Raise FileNotFoundError naming every missing path of a classification
    config and saying where to get it."""
    missing = missing_classification_files(cfg, tuple(splits))
    if not missing:
        return
    listing = '\n'.join(f'  - {path}' for path, _ in missing)
    advice = []
    for _, text in missing:
        if text not in advice:
            advice.append(text)
    where = (f'Paths in configs are relative to the current directory '
             f'({os.getcwd()}); run the tools from the repository root, or '
             'point the config elsewhere with --cfg-options (data_root of '
             'each dataloader).')
    raise FileNotFoundError(
        f'Files of {getattr(cfg, "filename", "the config")} are missing:\n'
        f'{listing}\n' + '\n'.join(advice) + f'\n{where}')
