"""Centre loss (Wen et al., ECCV 2016) as the strong baseline uses it."""
import torch
import torch.distributed as dist
from mmengine.model import BaseModule


class CenterLoss(BaseModule):
    """Mean squared distance of each feature to its identity's centre.

    ``loss = loss_weight * mean_i ||x_i - c_{y_i}||^2``. The gradient reaches
    the features only. The centres are not model parameters: the strong
    baseline moves them with a separate plain SGD (lr 0.5, no momentum, no
    weight decay) on the gradient of the unweighted loss, and this module
    applies exactly that step itself during training, right after computing
    the loss. So the model's optimizer (and Gradient Centralization) never
    touches the centres, and a baseline and its GC twin share this update.
    With several processes the centre step uses the mean over processes, as
    a gradient averaged by DistributedDataParallel would.

    Args:
        num_classes (int): Number of training identities.
        feat_dim (int): Dimension of the features.
        loss_weight (float): Weight of the loss. Defaults to 5e-4.
        center_lr (float): Learning rate of the centres' SGD. Defaults to 0.5.
    """

    def __init__(self,
                 num_classes: int,
                 feat_dim: int,
                 loss_weight: float = 5e-4,
                 center_lr: float = 0.5):
        super().__init__()
        if num_classes < 1 or feat_dim < 1:
            raise ValueError(
                f'CenterLoss: num_classes ({num_classes}) and feat_dim '
                f'({feat_dim}) must be positive.')
        self.num_classes = num_classes
        self.feat_dim = feat_dim
        self.loss_weight = loss_weight
        self.center_lr = center_lr
        # A buffer: saved in checkpoints, invisible to the model optimizer.
        self.register_buffer('centers', torch.randn(num_classes, feat_dim))

    def forward(self, feats: torch.Tensor,
                labels: torch.Tensor) -> torch.Tensor:
        if feats.dim() != 2 or feats.size(1) != self.feat_dim:
            raise ValueError(
                f'CenterLoss expects features of shape (N, {self.feat_dim}), '
                f'got {tuple(feats.shape)}; set feat_dim to the feature size.')
        centers = self.centers[labels]
        loss = (feats - centers).pow(2).sum(1).mean()
        if self.training:
            self._step_centers(feats.detach(), labels, centers)
        return self.loss_weight * loss

    @torch.no_grad()
    def _step_centers(self, feats: torch.Tensor, labels: torch.Tensor,
                      centers: torch.Tensor) -> None:
        # d/dc_j of mean_i ||x_i - c_{y_i}||^2 = 2/N sum_{i: y_i=j} (c_j - x_i)
        grad = torch.zeros_like(self.centers)
        grad.index_add_(0, labels, 2 * (centers - feats) / feats.size(0))
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(grad)
            grad /= dist.get_world_size()
        self.centers.sub_(self.center_lr * grad)
