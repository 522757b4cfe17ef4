"""Before a ReID Runner is built: are the Market-1501 folders there, and can
the training batches be drawn and trained on?

Without this, a missing folder, too few identities for the P x K batches or
a classifier smaller than the number of identities surface only after the
model is built, and batches of one identity reach mmdet's TripletLoss,
which fails on an empty ``min()``. Only file names are read here: the
identities and their image counts come from them, as in
:class:`~mmgc.reid.Market1501Dataset`.
"""
import inspect
import os
import os.path as osp
import shlex
from collections import Counter
from typing import Dict, Iterable, List, Tuple

from .market1501 import (GALLERY_DIR, JUNK_PID, QUERY_DIR, TRAIN_DIR,
                         parse_market1501_name)
from .pk_sampler import (MIN_IDS_PER_BATCH, MIN_INSTANCES, PKBatchSampler,
                         pk_batch_problem)

TOY_REID_COMMAND = 'python tools/generate_toy_reid.py'
_TOY_ROOT = 'data/toy_market1501'

# The folders each split of Market1501Dataset reads.
_SPLIT_FOLDERS = {
    'train': (TRAIN_DIR, ),
    'test': (QUERY_DIR, GALLERY_DIR),
    'query': (QUERY_DIR, ),
    'gallery': (GALLERY_DIR, ),
}
_LOADERS = {
    'train': ('train_dataloader', None),
    'val': ('val_dataloader', 'val_cfg'),
    'test': ('test_dataloader', 'test_cfg'),
}


def _is_toy(root: str, config_name: str = '') -> bool:
    # The toy configs name the toy dataset in their file name.
    return 'toy_market1501' in root or 'toy' in osp.basename(config_name)


def _toy_command(root: str, num_train_ids: int = 0) -> str:
    options = []
    if osp.normpath(root) != osp.normpath(_TOY_ROOT):
        options += ['--out-dir', shlex.quote(root.rstrip('/') or root)]
    if num_train_ids:
        options += ['--num-train-ids', str(num_train_ids)]
    return ' '.join([TOY_REID_COMMAND] + options + ['--overwrite'])


def _where_data_comes_from(root: str, is_toy: bool) -> str:
    if is_toy:
        return ('This is the built-in toy dataset. Generate it with:\n  '
                + _toy_command(root).replace(' --overwrite', ''))
    return (f'Put Market-1501 (Market-1501-v15.09.15) at {root}, keeping its '
            f'folders {TRAIN_DIR}/, {QUERY_DIR}/ and {GALLERY_DIR}/ (e.g. '
            f'ln -s /path/to/Market-1501-v15.09.15 {root.rstrip("/")}), or '
            'point data_root of each dataloader dataset at it with '
            '--cfg-options.')


def _market1501_datasets(cfg, splits: Iterable[str]
                         ) -> List[Tuple[str, str, dict]]:
    """(split, config key, dataset config) of each Market1501Dataset."""
    found = []
    for split in splits:
        loader_key, loop_key = _LOADERS[split]
        if loop_key and cfg.get(loop_key) is None:
            continue
        key, dataset = f'{loader_key}.dataset', (
            cfg.get(loader_key) or {}).get('dataset')
        while isinstance(dataset, dict) and 'dataset' in dataset:
            key, dataset = f'{key}.dataset', dataset['dataset']
        if isinstance(dataset, dict) and str(dataset.get('type', '')).endswith(
                'Market1501Dataset'):
            found.append((split, key, dataset))
    return found


def images_per_identity(folder: str) -> Dict[int, int]:
    """Person id -> number of images in a Market-1501 folder (junk images
    left out, as the dataset does)."""
    counts: Counter = Counter()
    for name in os.listdir(folder):
        if not name.endswith('.jpg'):
            continue
        try:
            pid, _ = parse_market1501_name(name)
        except ValueError as error:
            raise ValueError(f'In {folder}: {error}') from None
        if pid != JUNK_PID:
            counts[pid] += 1
    return dict(counts)


def _default_num_instances() -> int:
    return inspect.signature(PKBatchSampler).parameters[
        'num_instances'].default


def check_reid_data(cfg, splits: Iterable[str]) -> None:
    """Raise FileNotFoundError if a Market-1501 folder the config reads for
    ``splits`` is missing, and ValueError, with the settings that work, if
    the training data cannot fill the P x K batches or has more identities
    than the classifier has classes."""
    datasets = _market1501_datasets(cfg, splits)
    missing, advice = [], []
    for _, _, dataset in datasets:
        root = dataset.get('data_root') or ''
        for folder in _SPLIT_FOLDERS.get(dataset.get('split', 'train'), ()):
            path = osp.join(root, folder)
            if not osp.isdir(path) and path not in missing:
                missing.append(path)
                text = _where_data_comes_from(
                    root, _is_toy(root, getattr(cfg, 'filename', '') or ''))
                if text not in advice:
                    advice.append(text)
    if missing:
        raise FileNotFoundError(
            f'Dataset folders of {getattr(cfg, "filename", "the config")} '
            'are missing:\n' + '\n'.join(f'  - {p}' for p in missing) + '\n'
            + '\n'.join(advice) + '\nPaths in configs are relative to the '
            f'current directory ({os.getcwd()}); run the tools from the '
            'repository root.')

    for split, key, dataset in datasets:
        if split == 'train' and dataset.get('split', 'train') == 'train':
            _check_training_data(cfg, key, dataset)


def _check_training_data(cfg, key: str, dataset: dict) -> None:
    root = dataset.get('data_root') or ''
    folder = osp.join(root, TRAIN_DIR)
    counts = images_per_identity(folder)
    num_ids = len(counts)
    head = (cfg.get('model') or {}).get('head') or {}
    num_classes = head.get('num_classes')
    if isinstance(num_classes, int) and num_classes < num_ids:
        raise ValueError(
            f'{folder} holds {num_ids} identities, so their labels run from '
            f'0 to {num_ids - 1}, but model.head.num_classes is '
            f'{num_classes}: set model.head.num_classes={num_ids} (e.g. '
            f'--cfg-options model.head.num_classes={num_ids}).')

    loader = cfg.get('train_dataloader') or {}
    batch_sampler = loader.get('batch_sampler') or {}
    if not str(batch_sampler.get('type', '')).endswith('PKBatchSampler'):
        return
    batch_size = loader.get('batch_size', 1)
    num_instances = batch_sampler.get('num_instances',
                                      _default_num_instances())
    world_size = int(os.environ.get('WORLD_SIZE', '1'))
    problem = pk_batch_problem(batch_size, num_instances,
                               list(counts.values()), world_size)
    if problem is None:
        return
    config_name = getattr(cfg, 'filename', None) or 'the config'
    identities = f'{num_ids} identit{"y" if num_ids == 1 else "ies"}'
    message = (f'The training batches of {config_name} ({key}: {folder}, '
               f'{identities}, {sum(counts.values())} images) cannot be '
               f'drawn: {problem}')
    if num_ids < MIN_IDS_PER_BATCH:
        message += '\n' + _more_identities_advice(
            root, _is_toy(root, config_name), key, batch_size, num_instances,
            world_size)
    raise ValueError(message)


def _more_identities_advice(root: str, is_toy: bool, key: str,
                            batch_size: int, num_instances: int,
                            world_size: int) -> str:
    """What to do when the training data has fewer than 2 identities: for
    the toy dataset, a command that writes enough of them for batches that
    train, and the batch settings to use with them."""
    if not is_toy:
        return (f'Check data_root of {key}: Market-1501 has 751 training '
                f'identities in {TRAIN_DIR}/.')
    k = max(num_instances, MIN_INSTANCES)
    p = max(MIN_IDS_PER_BATCH, batch_size // k)
    # Every toy identity has at least 2 images, so p x world_size of them
    # give each process a batch.
    num_ids = p * max(world_size, 1)
    advice = (f'Write the toy dataset again with {num_ids} training '
              f'identities:\n  {_toy_command(root, num_ids)}')
    if (batch_size, num_instances) != (p * k, k):
        advice += (f'\nand set train_dataloader.batch_size={p * k}'
                   + (f' and train_dataloader.batch_sampler.num_instances={k}'
                      if k != num_instances else '')
                   + f' (P={p} identities x K={k} images).')
    return advice
