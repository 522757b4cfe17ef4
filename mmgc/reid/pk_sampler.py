"""P x K batches (P identities, K images each) for metric learning.

mmdet's ``ReIDDataset`` builds a whole P x K batch per dataset item, so an
"epoch" there is as many batches as there are images. Here an epoch is what
the strong baseline calls one: every identity's images are shuffled and cut
into groups of K, batches take P groups of different identities, and the
epoch ends when the groups run out, so each training image is seen about
once (identities with fewer than K images are sampled with replacement).
"""
from typing import Dict, Iterator, List

import numpy as np
from torch.utils.data import Sampler


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
        batch_size (int): P x K; must be a multiple of ``num_instances``.
        num_instances (int): K, the images per identity in a batch.
    """

    def __init__(self, sampler, batch_size: int, num_instances: int = 4):
        for attr in ('dataset', 'seed', 'epoch', 'rank', 'world_size'):
            if not hasattr(sampler, attr):
                raise TypeError(
                    'PKBatchSampler wraps mmengine\'s DefaultSampler (it '
                    f'reads its {attr!r}); got {type(sampler).__name__}. Use '
                    "sampler=dict(type='DefaultSampler', shuffle=True).")
        if num_instances < 1:
            raise ValueError(
                f'PKBatchSampler: num_instances must be >= 1, got '
                f'{num_instances}.')
        if batch_size < num_instances or batch_size % num_instances:
            raise ValueError(
                f'PKBatchSampler: batch_size {batch_size} must be a multiple '
                f'of num_instances {num_instances} (batch_size = P x K, '
                'P identities with K images each).')
        self.sampler = sampler
        self.batch_size = batch_size
        self.num_instances = num_instances
        self.num_ids_per_batch = batch_size // num_instances

        self._indices_by_pid = self._group_by_label(sampler.dataset)
        if len(self._indices_by_pid) < self.num_ids_per_batch:
            raise ValueError(
                f'PKBatchSampler: a batch needs {self.num_ids_per_batch} '
                f'different identities but the dataset has only '
                f'{len(self._indices_by_pid)}; lower batch_size or raise '
                'num_instances.')
        groups_per_pid = [
            max(len(indices), num_instances) // num_instances
            for indices in self._indices_by_pid.values()
        ]
        num_batches = sum(groups_per_pid) // self.num_ids_per_batch
        self._batches_per_rank = num_batches // sampler.world_size
        if self._batches_per_rank == 0:
            raise ValueError(
                f'PKBatchSampler: the dataset yields {num_batches} batches '
                f'of {batch_size}, fewer than the {sampler.world_size} '
                'processes; lower batch_size.')

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
