"""Query/gallery retrieval metric with the Market-1501 protocol.

For every query the gallery is ranked by feature distance. Gallery images of
the query's person taken by the query's camera are removed from its ranking
(they would be trivial matches). Then:

- AP of a query: mean over its true matches of the precision at the match's
  rank; mAP is the mean over queries.
- CMC Rank-k: the fraction of queries whose first true match is within the
  first k ranked gallery images.

A query that has no true match left in the gallery is skipped: it counts in
neither mAP nor CMC (the standard protocol does the same), and the number of
skipped queries is reported as ``num_skipped_queries``.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

DISTANCES = ('cosine', 'euclidean')


def _distances(query: torch.Tensor, gallery: torch.Tensor,
               distance: str) -> torch.Tensor:
    if distance == 'cosine':
        query = torch.nn.functional.normalize(query, dim=1)
        gallery = torch.nn.functional.normalize(gallery, dim=1)
        return 1 - query @ gallery.t()
    # Squared Euclidean distance ranks the gallery like the distance itself.
    dist = (query.pow(2).sum(1, keepdim=True) + gallery.pow(2).sum(1) -
            2 * query @ gallery.t())
    return dist.clamp_(min=0)


def evaluate_query_gallery(query_feats: torch.Tensor,
                           query_pids: Sequence[int],
                           query_camids: Sequence[int],
                           gallery_feats: torch.Tensor,
                           gallery_pids: Sequence[int],
                           gallery_camids: Sequence[int],
                           distance: str = 'cosine',
                           ranks: Sequence[int] = (1, 5, 10),
                           chunk_size: int = 256) -> Dict[str, float]:
    """mAP and CMC of a query set against a gallery (fractions in [0, 1]).

    Distances are computed for ``chunk_size`` queries at a time, so memory
    grows with ``chunk_size x len(gallery)``, not with the number of queries.
    Gallery images at the same distance keep their gallery order.

    Returns:
        dict: ``mAP``, ``R<k>`` for each k in ``ranks``, ``num_queries`` and
        ``num_skipped_queries`` (queries without any valid true match).

    Raises:
        ValueError: on an unknown distance, mismatched lengths, or when no
            query has a valid true match in the gallery.
    """
    if distance not in DISTANCES:
        raise ValueError(f'distance={distance!r} is not one of {DISTANCES}.')
    if chunk_size < 1:
        raise ValueError(f'chunk_size must be >= 1, got {chunk_size}.')
    ranks = tuple(int(k) for k in ranks)
    if not ranks or min(ranks) < 1:
        raise ValueError(f'ranks must be positive integers, got {ranks}.')
    query_feats = torch.as_tensor(query_feats, dtype=torch.float32)
    gallery_feats = torch.as_tensor(gallery_feats, dtype=torch.float32)
    q_pids = torch.as_tensor(np.asarray(query_pids), dtype=torch.long)
    q_cams = torch.as_tensor(np.asarray(query_camids), dtype=torch.long)
    g_pids = torch.as_tensor(np.asarray(gallery_pids), dtype=torch.long)
    g_cams = torch.as_tensor(np.asarray(gallery_camids), dtype=torch.long)
    for name, feats, pids, cams in (('query', query_feats, q_pids, q_cams),
                                    ('gallery', gallery_feats, g_pids,
                                     g_cams)):
        if feats.dim() != 2 or not len(feats) == len(pids) == len(cams):
            raise ValueError(
                f'{name}: expected features of shape (N, C) and N pids and '
                f'camera ids, got features {tuple(feats.shape)}, '
                f'{len(pids)} pids, {len(cams)} camera ids.')
    if len(query_feats) == 0 or len(gallery_feats) == 0:
        raise ValueError('The query set and the gallery must not be empty.')

    max_rank = max(ranks)
    sum_ap = 0.0
    sum_cmc = torch.zeros(max_rank, dtype=torch.float64)
    num_valid = 0
    for start in range(0, len(query_feats), chunk_size):
        stop = start + chunk_size
        dist = _distances(query_feats[start:stop], gallery_feats, distance)
        order = torch.sort(dist, dim=1, stable=True).indices
        ranked_pids = g_pids[order]
        ranked_cams = g_cams[order]
        same_pid = ranked_pids == q_pids[start:stop, None]
        keep = ~(same_pid & (ranked_cams == q_cams[start:stop, None]))
        hits = same_pid & keep
        # Positions are counted over the kept gallery entries only.
        position = keep.cumsum(1)
        num_hits = hits.cumsum(1)
        num_rel = num_hits[:, -1]
        valid = num_rel > 0
        precision_at_hits = torch.where(hits, num_hits.double() / position,
                                        torch.zeros((), dtype=torch.float64))
        ap = precision_at_hits.sum(1)[valid] / num_rel[valid]
        sum_ap += ap.sum().item()
        # Rank (from 1) of the first true match among the kept entries.
        first_hit = torch.where(hits, position,
                                torch.full_like(position, 2**62)).min(1).values
        first_hit = first_hit[valid]
        sum_cmc += (first_hit[:, None] <= torch.arange(1, max_rank + 1)).sum(0)
        num_valid += int(valid.sum())

    num_queries = len(query_feats)
    if num_valid == 0:
        raise ValueError(
            f'None of the {num_queries} queries has a true match in the '
            'gallery outside its own camera, so mAP and CMC are undefined. '
            'Check that query and gallery come from the same test set.')
    results = dict(mAP=sum_ap / num_valid)
    for k in ranks:
        results[f'R{k}'] = sum_cmc[k - 1].item() / num_valid
    results['num_queries'] = num_queries
    results['num_skipped_queries'] = num_queries - num_valid
    return results


class QueryGalleryReIDMetric(BaseMetric):
    """mAP and CMC Rank-k of a ReID model, Market-1501 protocol.

    Reads, from every predicted data sample, ``pred_feature`` (the feature
    the head returns at inference) and the meta keys ``pid``, ``camid`` and
    ``is_query`` (keep them in the test pipeline's ``PackInputs`` meta_keys).
    Results are percentages under ``reid/mAP``, ``reid/R1``, ... .

    Args:
        distance (str): ``'cosine'`` (the strong baseline: L2-normalised
            features, whose Euclidean ranking is the cosine ranking) or
            ``'euclidean'`` (raw features).
        ranks (Sequence[int]): CMC ranks to report. Defaults to (1, 5, 10).
        chunk_size (int): Queries per distance computation; bounds memory.
        collect_device (str): ``'cpu'`` or ``'gpu'``, for multi-process runs.
        prefix (str, optional): Defaults to ``'reid'``.
    """
    default_prefix: Optional[str] = 'reid'
    _REQUIRED_KEYS = ('pred_feature', 'pid', 'camid', 'is_query')

    def __init__(self,
                 distance: str = 'cosine',
                 ranks: Sequence[int] = (1, 5, 10),
                 chunk_size: int = 256,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if distance not in DISTANCES:
            raise ValueError(
                f'QueryGalleryReIDMetric: distance={distance!r} is not one '
                f'of {DISTANCES}.')
        self.distance = distance
        self.ranks = tuple(ranks)
        self.chunk_size = chunk_size

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            missing = [k for k in self._REQUIRED_KEYS if k not in sample]
            if missing:
                raise KeyError(
                    f'QueryGalleryReIDMetric needs {missing} in every data '
                    "sample: use a head that sets 'pred_feature' and add "
                    "'pid', 'camid' and 'is_query' to the test pipeline's "
                    'PackInputs meta_keys.')
            self.results.append(
                dict(
                    feature=sample['pred_feature'].detach().float().cpu(),
                    pid=int(sample['pid']),
                    camid=int(sample['camid']),
                    is_query=bool(sample['is_query'])))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        query = [r for r in results if r['is_query']]
        gallery = [r for r in results if not r['is_query']]
        if not query or not gallery:
            raise ValueError(
                f'QueryGalleryReIDMetric got {len(query)} query and '
                f'{len(gallery)} gallery images; evaluate on a dataset that '
                "holds both (Market1501Dataset with split='test').")
        scores = evaluate_query_gallery(
            torch.stack([r['feature'] for r in query]),
            [r['pid'] for r in query], [r['camid'] for r in query],
            torch.stack([r['feature'] for r in gallery]),
            [r['pid'] for r in gallery], [r['camid'] for r in gallery],
            distance=self.distance,
            ranks=self.ranks,
            chunk_size=self.chunk_size)
        if scores['num_skipped_queries']:
            MMLogger.get_current_instance().warning(
                f"{scores['num_skipped_queries']} of {scores['num_queries']} "
                'queries have no true match in the gallery outside their own '
                'camera; they are left out of mAP and CMC.')
        metrics = dict(mAP=100 * scores['mAP'])
        for k in self.ranks:
            metrics[f'R{k}'] = 100 * scores[f'R{k}']
        return metrics
