"""When to take the multi-tensor (foreach) path: decided as torch decides."""
from typing import List, Optional

from torch import Tensor
from torch.optim.optimizer import _default_to_fused_or_foreach


def default_to_foreach(params: List[Tensor],
                       grads: List[Optional[Tensor]]) -> bool:
    """``foreach=None`` resolves exactly as in torch.optim: the multi-tensor
    path on devices with native foreach kernels (CUDA and the like), the
    single-tensor path elsewhere (CPU)."""
    tensors = [t for t in list(params) + list(grads) if t is not None]
    _, foreach = _default_to_fused_or_foreach(tensors, differentiable=False,
                                              use_fused=False)
    return foreach
