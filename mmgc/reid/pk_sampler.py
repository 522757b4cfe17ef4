"""P x K batches (P identities, K images each) for metric learning.

mmdet's ``ReIDDataset`` builds a whole P x K batch per dataset item, so an
"epoch" there is as many batches as there are images. Here an epoch is what
the strong baseline calls one: every identity's images are shuffled and cut
into groups of K, batches take P groups of different identities, and the
epoch ends when the groups run out, so each training image is seen about
once (identities with fewer than K images are sampled with replacement).

The triplet loss with hard mining compares every image with the farthest
image of its identity and the nearest image of another one, so every batch
needs P >= 2 identities (with one, mmdet's TripletLoss fails on an empty
``min()``) and K >= 2 images of each (with one, an image's only positive is
itself). :func:`pk_batch_problem` states these rules; the sampler and the
check that runs before training (:mod:`mmgc.reid.data_checks`) share it.
"""
from typing import Dict, Iterator, List, Optional, Sequence

import numpy as np
from torch.utils.data import Sampler

#: Fewest identities in a batch: each image needs a negative.
MIN_IDS_PER_BATCH = 2
#: Fewest images of an identity in a batch: each image needs a positive.
MIN_INSTANCES = 2
_BATCH_KEY = 'train_dataloader.batch_size'
_INSTANCES_KEY = 'train_dataloader.batch_sampler.num_instances'


def num_pk_batches(images_per_id: Sequence[int], num_ids_per_batch: int,
                   num_instances: int) -> int:
    """Batches of P = ``num_ids_per_batch`` identities x K = ``num_instances``
    images in one epoch of the sampler."""
    groups = sum(max(n, num_instances) // num_instances
                 for n in images_per_id)
    return groups // num_ids_per_batch


def _suggestion(batch_size: int, num_instances: int,
                images_per_id: Sequence[int], world_size: int
                ) -> Optional[str]:
    """Settings close to the given ones that give every process batches of
    at least 2 identities x 2 images, or None if there are none."""
    num_ids = len(images_per_id)
    for k in range(max(num_instances, MIN_INSTANCES), MIN_INSTANCES - 1, -1):
        groups = num_pk_batches(images_per_id, 1, k)
        # The P asked for, within what the identities and the processes
        # (each needs groups // P >= 1 batch) allow.
        p = min(max(batch_size // k, MIN_IDS_PER_BATCH), num_ids,
                groups // world_size)
        if p >= MIN_IDS_PER_BATCH:
            keys = f'{_BATCH_KEY}={p * k}'
            if k != num_instances:
                keys += f' and {_INSTANCES_KEY}={k}'
            return f'{keys} (P={p} identities x K={k} images)'
    return None


def pk_batch_problem(batch_size: int,
                     num_instances: int,
                     images_per_id: Optional[Sequence[int]] = None,
                     world_size: int = 1) -> Optional[str]:
    """What keeps P x K batches of ``batch_size`` with K = ``num_instances``
    from training a triplet loss, with the settings that would, or None.

    Args:
        images_per_id: Training images of each identity, when known.
        world_size: Processes that each draw their own batches.
    """
    k = num_instances
    p = batch_size // k if k > 0 else 0
    if k < MIN_INSTANCES:
        problem = (f'num_instances (K) is {k}, but every identity needs at '
                   f'least {MIN_INSTANCES} images in a batch: the triplet '
                   "loss compares each image with another image of its "
                   'identity')
    elif batch_size < k or batch_size % k:
        problem = (f'batch_size {batch_size} must be a multiple of '
                   f'num_instances {k} (batch_size = P x K, P identities '
                   'with K images each)')
    elif p < MIN_IDS_PER_BATCH:
        problem = (f'batch_size {batch_size} / num_instances {k} gives P = '
                   f'{p} identity per batch, but the triplet loss needs at '
                   f'least {MIN_IDS_PER_BATCH} identities in every batch (it '
                   "compares each image with another identity's)")
    elif images_per_id is not None and len(images_per_id) < p:
        problem = (f'a batch needs {p} different identities (batch_size '
                   f'{batch_size} = P {p} x K {k}) but the training data has '
                   f'only {len(images_per_id)}')
    elif images_per_id is not None and num_pk_batches(
            images_per_id, p, k) < world_size:
        problem = (f'the training data yields '
                   f'{num_pk_batches(images_per_id, p, k)} batches of '
                   f'{batch_size} per epoch, fewer than the {world_size} '
                   'processes that each need one')
    else:
        return None

    rule = (f'batch_size = P x K with P >= {MIN_IDS_PER_BATCH} identities '
            f'and K >= {MIN_INSTANCES} images each')
    if images_per_id is None:
        return f'{problem}. Set {rule}.'
    num_ids = len(images_per_id)
    if num_ids < MIN_IDS_PER_BATCH:
        return (f'{problem}. No batch size helps: the training data must '
                f'hold at least {MIN_IDS_PER_BATCH} identities, and it has '
                f'{num_ids}.')
    suggestion = _suggestion(batch_size, k, images_per_id, world_size)
    if suggestion is None:
        return (f'{problem}. With {num_ids} identities and '
                f'{sum(images_per_id)} images no {rule} gives each of the '
                f'{world_size} processes a batch: use fewer processes or '
                'more training data.')
    return (f'{problem}. Set {rule}, P <= {num_ids} (the identities of the '
            f'training data); for example {suggestion}.')


class PKBatchSampler(Sampler):
    """Batch sampler that yields P identities x K images per batch.

    Used as the dataloader's ``batch_sampler`` around mmengine's
    ``DefaultSampler``, whose seed, epoch (``set_epoch``), rank and world
    size it follows; the identities come from the dataset's ``gt_label``::

        train_dataloader = dict(
            batch_size=64,  # P x K, here P = 16 identities
            sampler=dict(type='DefaultSampler', shuffle=True),
            batch_sampler=dict(type='PKBatchSampler', num_instances=4),
            ...)

    With several processes, the epoch's batches are dealt out in turn, so
    each process gets its own P x K batches and together they cover the
    epoch once.

    Args:
        sampler: mmengine's ``DefaultSampler`` over the training dataset.
        batch_size (int): P x K, with P >= 2 identities per batch.
        num_instances (int): K >= 2, the images per identity in a batch.
    """

    def __init__(self, sampler, batch_size: int, num_instances: int = 4):
        for attr in ('dataset', 'seed', 'epoch', 'rank', 'world_size'):
            if not hasattr(sampler, attr):
                raise TypeError(
                    'PKBatchSampler wraps mmengine\'s DefaultSampler (it '
                    f'reads its {attr!r}); got {type(sampler).__name__}. Use '
                    "sampler=dict(type='DefaultSampler', shuffle=True).")
        indices_by_pid = self._group_by_label(sampler.dataset)
        # With the identities known, the error can name settings that work.
        problem = pk_batch_problem(batch_size, num_instances,
                                   [len(i) for i in indices_by_pid.values()],
                                   sampler.world_size)
        if problem is not None:
            raise ValueError(f'PKBatchSampler: {problem}')
        self.sampler = sampler
        self.batch_size = batch_size
        self.num_instances = num_instances
        self.num_ids_per_batch = batch_size // num_instances
        self._indices_by_pid = indices_by_pid
        self._batches_per_rank = num_pk_batches(
            [len(i) for i in indices_by_pid.values()],
            self.num_ids_per_batch, num_instances) // sampler.world_size

    @staticmethod
    def _group_by_label(dataset) -> Dict[int, List[int]]:
        indices_by_pid: Dict[int, List[int]] = {}
        for index in range(len(dataset)):
            info = dataset.get_data_info(index)
            if 'gt_label' not in info:
                raise KeyError(
                    'PKBatchSampler needs the identity label '
                    "('gt_label') of every item; dataset "
                    f'{type(dataset).__name__} item {index} has none.')
            indices_by_pid.setdefault(int(info['gt_label']), []).append(index)
        return indices_by_pid

    def _identity_groups(self, indices: List[int],
                         rng: np.random.Generator) -> List[List[int]]:
        """One epoch's worth of K-image groups of one identity."""
        k = self.num_instances
        if len(indices) < k:
            indices = rng.choice(indices, size=k, replace=True)
        else:
            indices = rng.permutation(indices)
        return [
            indices[i:i + k].tolist()
            for i in range(0, len(indices) - k + 1, k)
        ]

    def _epoch_batches(self) -> List[List[int]]:
        seed = 0 if self.sampler.seed is None else self.sampler.seed
        # Same seed on every process, so all deal from the same batch list.
        rng = np.random.default_rng([seed, self.sampler.epoch])
        pids = list(self._indices_by_pid)
        groups = {
            pid: self._identity_groups(self._indices_by_pid[pid], rng)
            for pid in pids
        }
        batches = []
        num_batches = self._batches_per_rank * self.sampler.world_size
        while len(batches) < num_batches:
            available = [pid for pid in pids if groups[pid]]
            if len(available) < self.num_ids_per_batch:
                # The last few batches: too few identities have groups left,
                # so start new rounds for the exhausted ones.
                for pid in pids:
                    if not groups[pid]:
                        groups[pid] = self._identity_groups(
                            self._indices_by_pid[pid], rng)
                available = pids
            chosen = rng.choice(
                len(available), size=self.num_ids_per_batch, replace=False)
            batches.append([
                index for i in chosen
                for index in groups[available[i]].pop()
            ])
        return batches

    def __iter__(self) -> Iterator[List[int]]:
        batches = self._epoch_batches()
        yield from batches[self.sampler.rank::self.sampler.world_size]

    def __len__(self) -> int:
        return self._batches_per_rank
