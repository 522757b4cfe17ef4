"""Person re-identification with the "strong baseline" (BoT) recipe.

mmdet 3.x ships the ReID model (``BaseReID``), the triplet loss and the
pooling neck; this package adds what the Market-1501 baseline needs on top:

- :class:`BNNeckHead`: triplet loss on the pooled feature, BatchNorm1d with a
  frozen bias, bias-free classifier, post-BN feature at inference.
- :class:`CenterLoss`: optional centre loss whose centres have their own
  plain-SGD update, like the baseline's separate centre optimizer.
- :class:`Market1501Dataset`: the standard folder layout, ids from file names.
- :class:`PKBatchSampler`: P identities x K images per batch, one epoch still
  covers each training image about once.
- :class:`QueryGalleryReIDMetric`: mAP and CMC with the Market-1501 protocol.
- :func:`generate_toy_market1501`: a small synthetic dataset, same layout.

Importing this package registers these parts in mmdet's registries (the
code is in :mod:`mmgc.register`); the ReID configs import it through
``custom_imports``, ``import mmgc`` alone does not (it never imports mmdet).
With an mmdet older than 3.1 (no ReID models) the import raises an error
that says what to install.
"""
from mmgc.compat import installed_version, mmdet_reid_problem
from mmgc.register import register_reid

_MMDET_PROBLEM = mmdet_reid_problem(installed_version('mmdet'))
if _MMDET_PROBLEM is not None:
    raise RuntimeError(_MMDET_PROBLEM)

from .bnneck_head import BNNeckHead
from .center_loss import CenterLoss
from .market1501 import Market1501Dataset, parse_market1501_name
from .metric import QueryGalleryReIDMetric, evaluate_query_gallery
from .pk_sampler import PKBatchSampler
from .toy_market1501 import generate_toy_market1501

register_reid(
    head=BNNeckHead,
    center_loss=CenterLoss,
    dataset=Market1501Dataset,
    sampler=PKBatchSampler,
    metric=QueryGalleryReIDMetric)

__all__ = [
    'BNNeckHead', 'CenterLoss', 'Market1501Dataset', 'parse_market1501_name',
    'QueryGalleryReIDMetric', 'evaluate_query_gallery', 'PKBatchSampler',
    'generate_toy_market1501'
]
