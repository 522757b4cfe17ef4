"""Adam and AdamW with Gradient Centralization: ``GCAdam``, ``GCAdamW`` and
the paper's ``Adam_GC(C)(2)`` and ``AdamW_GC(C)(2)``.

Where GC acts is chosen per param group by ``gc_loc``:

* ``gc_loc='gradient'`` (``True``): the gradient (after L2 decay is added)
  is centralized before it enters the moments;
* ``gc_loc='update'`` (``False``; the default, the advice of the GC authors
  for adaptive methods): the moments see the raw gradient and the final update
  ``step_size * m / denom`` is centralized, together with AdamW's decoupled
  decay ``lr * wd * w``, so each weight slice keeps its mean.

The math is the Adam kernel, :func:`mmgc.optim.functional.adam`, with a
single-tensor and a multi-tensor (``foreach``) path. Tensors GC does not
touch (1-D, or not conv with ``gc_conv_only``), and every tensor with
``use_gc=False``, take exactly torch's operations (its single-tensor path for
``foreach=False``, its foreach path for ``foreach=True``; bit-identical on
CPU), and the state layout is torch's (tensor ``step``, ``exp_avg``,
``exp_avg_sq``, ``max_exp_avg_sq``).

AdamW's decay is torch's ``w *= 1 - lr * wd``. The authors' advanced AdamW
scaled it by ``lr / (1 - beta1^t)`` (ten times ``lr`` at step 1); that is not
reproduced.

The paper's optimizers are ``GCAdam`` with what the paper fixed: the GC rule
(``GC``: conv and fc weights, ``GCC``: conv weights only), its location
(``..._GC``: the gradient, ``..._GC2``: the final update) and the authors'
arithmetic (``arithmetic='paper'``: their order of floating-point
operations, an integer ``step``). Their AdamW variants use the AdamW of
2019-era PyTorch that the paper ran: ``denom = sqrt(v) + eps``,
``step_size = lr * sqrt(1 - b2^t) / (1 - b1^t)`` and
``w -= step_size * (wd * w + m / denom)``. The decay is scaled by
``step_size``, not by ``lr`` as in today's torch.optim.AdamW: kept on
purpose, it is what produced the paper's numbers.
"""
from typing import Optional, Union

import torch
from torch.optim import Adam, AdamW

from . import functional as F
from ._validation import (GC_OPTION_RULES, HyperSpec, betas, flag, number,
                          off, optional_flag)
from .gc_group import GCGroupMixin, as_float, scalar_dtype
from .placement import kernel_gc_args

__all__ = [
    'GCAdam', 'GCAdamW', 'Adam_GC', 'Adam_GCC', 'Adam_GC2', 'Adam_GCC2',
    'AdamW_GC', 'AdamW_GCC', 'AdamW_GC2', 'AdamW_GCC2', 'init_group',
    'ADAM_HYPERPARAMETERS'
]

#: Options torch.optim puts into every group that the GC kernels cannot do.
UNSUPPORTED = dict(
    fused=off('a fused kernel updates the weights in one launch and, under '
              'AMP, receives gradients still multiplied by the loss scale, '
              'so there is no unscaled gradient to centralize'),
    differentiable=off('the GC kernels run under no_grad'),
    capturable=off('the GC kernels read the step count on the host'))

#: The Adam family's hyper-parameters, checked at every entry.
ADAM_HYPERPARAMETERS = HyperSpec(
    dict(lr=number(),
         betas=betas(),
         eps=number(),
         weight_decay=number(),
         amsgrad=flag(),
         **GC_OPTION_RULES,
         decoupled_weight_decay=flag(),
         maximize=flag(),
         foreach=optional_flag(),
         **UNSUPPORTED))


def init_group(optimizer, group: dict, conv_only, params, grads, exp_avgs,
               exp_avg_sqs, max_exp_avg_sqs, state_steps) -> None:
    """Gather a param group's tensors and state for the Adam-family kernels
    (GCAdam and its specializations, GCRAdam), creating the state as torch
    does: a ``step`` (a tensor, or an int for the authors' arithmetic), zero
    moments, and ``max_exp_avg_sq`` with amsgrad."""
    amsgrad = group.get('amsgrad', False)
    for p in optimizer._params_with_grad(group, conv_only):
        if p.grad.is_sparse:
            raise RuntimeError(
                f'{type(optimizer).__name__} does not support sparse '
                f'gradients (parameter of shape {tuple(p.shape)}); use a '
                'dense layer, or torch.optim.SparseAdam for it.')
        state = optimizer.state[p]
        if 'step' not in state:
            state['step'] = (torch.tensor(0.0, dtype=scalar_dtype())
                             if optimizer.tensor_step else 0)
            state['exp_avg'] = torch.zeros_like(
                p, memory_format=torch.preserve_format)
            state['exp_avg_sq'] = torch.zeros_like(
                p, memory_format=torch.preserve_format)
            if amsgrad:
                state['max_exp_avg_sq'] = torch.zeros_like(
                    p, memory_format=torch.preserve_format)
        params.append(p)
        grads.append(p.grad)
        exp_avgs.append(state['exp_avg'])
        exp_avg_sqs.append(state['exp_avg_sq'])
        if amsgrad:
            max_exp_avg_sqs.append(state['max_exp_avg_sq'])
        state_steps.append(state['step'])


class GCAdam(GCGroupMixin, Adam):
    """Adam (L2 weight decay) with GC.

    Args:
        params: Parameters or param groups; a group may set ``use_gc``,
            ``gc_conv_only`` and ``gc_loc`` for itself.
        lr, betas, eps, weight_decay, amsgrad, maximize: as in
            :class:`torch.optim.Adam`.
        use_gc (bool): Centralize weights with ``ndim > 1``. Default True.
        gc_conv_only (bool): Only conv weights (``ndim > 3``). Default False.
        gc_loc (str | bool): ``'gradient'`` (or True): centralize the
            gradient before the moments; ``'update'`` (or False): centralize
            the final update. Default False.
        foreach (bool, optional): The multi-tensor path; ``None`` decides
            as torch does (multi-tensor on CUDA, single-tensor on CPU).

    ``p.grad`` is only read. ``fused``, ``capturable`` and ``differentiable``
    exist for signature parity and must stay off.
    """

    hyperparameters = ADAM_HYPERPARAMETERS
    torch_class = Adam
    option_defaults = dict(use_gc=True, gc_conv_only=False, gc_loc=False,
                           decoupled_weight_decay=False)
    state_keys = frozenset({'step', 'exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'})
    group_keys = ('betas', )
    #: Whose floating-point operation order the kernel follows ('torch' or
    #: the authors', 'paper').
    arithmetic = 'torch'
    #: The 2019 AdamW the paper ran (decay scaled by the step size).
    old_adamw = False

    def __init__(self,
                 params,
                 lr: float = 1e-3,
                 betas=(0.9, 0.999),
                 eps: float = 1e-8,
                 weight_decay: float = 0,
                 amsgrad: bool = False,
                 *,
                 use_gc: Optional[bool] = None,
                 gc_conv_only: Optional[bool] = None,
                 gc_loc: Union[bool, str, None] = None,
                 decoupled_weight_decay: Optional[bool] = None,
                 maximize: bool = False,
                 foreach: Optional[bool] = None,
                 capturable: bool = False,
                 differentiable: bool = False,
                 fused: Optional[bool] = None,
                 **unknown):
        self._build(params, unknown, lr=lr, betas=betas, eps=eps,
                    weight_decay=weight_decay, amsgrad=amsgrad,
                    use_gc=use_gc, gc_conv_only=gc_conv_only, gc_loc=gc_loc,
                    decoupled_weight_decay=decoupled_weight_decay,
                    maximize=maximize, foreach=foreach,
                    capturable=capturable, differentiable=differentiable,
                    fused=fused)

    def _weight_decay_mode(self, group: dict) -> str:
        if self.old_adamw:
            return 'old_adamw'
        return 'decoupled' if group['decoupled_weight_decay'] else 'l2'

    def _step_group(self, group: dict) -> None:
        conv_only, location = kernel_gc_args(self.gc_placement(group))
        params, grads, exp_avgs, exp_avg_sqs = [], [], [], []
        max_exp_avg_sqs, state_steps = [], []
        init_group(self, group, conv_only, params, grads, exp_avgs,
                   exp_avg_sqs, max_exp_avg_sqs, state_steps)
        # Each step counter goes up by one, in place for torch's tensor
        # counters (as torch does), in the state for an int one.
        steps = []
        for p in params:
            self.state[p]['step'] += 1
            steps.append(as_float(self.state[p]['step']))
        beta1, beta2 = group['betas']
        F.adam(params, grads, exp_avgs, exp_avg_sqs,
               max_exp_avg_sqs if group['amsgrad'] else [None] * len(params),
               steps,
               amsgrad=group['amsgrad'],
               beta1=as_float(beta1),
               beta2=as_float(beta2),
               lr=as_float(group['lr']),
               weight_decay=group['weight_decay'],
               eps=group['eps'],
               conv_only=conv_only,
               gc_loc=location,
               weight_decay_mode=self._weight_decay_mode(group),
               maximize=group['maximize'],
               arithmetic=self.arithmetic,
               foreach=group.get('foreach'))


class GCAdamW(GCAdam, AdamW):
    """AdamW (torch's decoupled decay ``w *= 1 - lr * wd``) with GC.

    Same arguments as :class:`GCAdam`; ``weight_decay`` defaults to 1e-2 as
    in :class:`torch.optim.AdamW`. With ``gc_loc='update'`` the decay term is
    centralized together with the update.
    """

    # Before torch 2.7, AdamW is no subclass of Adam: Adam.__init__ would
    # reach AdamW.__init__ through GCAdamW's MRO.
    torch_class = AdamW
    fixed = dict(decoupled_weight_decay=True)

    def __init__(self,
                 params,
                 lr: float = 1e-3,
                 betas=(0.9, 0.999),
                 eps: float = 1e-8,
                 weight_decay: float = 1e-2,
                 amsgrad: bool = False,
                 **kwargs):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad,
                         **kwargs)


# --------------------------------------------------------------------------
# The paper's optimizers: the GC rule, its location and the decay mode fixed,
# in the authors' arithmetic.
# --------------------------------------------------------------------------
class _PaperAdam(GCAdam):
    """What the eight paper variants share: the authors' arithmetic."""
    arithmetic = 'paper'
    tensor_step = False


def _paper(conv_only: bool, location: str, old_adamw: bool) -> dict:
    return dict(use_gc=True, gc_conv_only=conv_only, gc_loc=location,
                decoupled_weight_decay=old_adamw)


class Adam_GC(_PaperAdam):
    """Adam with GC on the gradient of conv and fc weights (ndim > 1)."""
    fixed = _paper(False, 'gradient', old_adamw=False)


class Adam_GCC(_PaperAdam):
    """Adam with GC on the gradient of conv weights only (ndim > 3)."""
    fixed = _paper(True, 'gradient', old_adamw=False)


class Adam_GC2(_PaperAdam):
    """Adam with GC on the final update of conv and fc weights."""
    fixed = _paper(False, 'update', old_adamw=False)


class Adam_GCC2(_PaperAdam):
    """Adam with GC on the final update of conv weights only."""
    fixed = _paper(True, 'update', old_adamw=False)


class AdamW_GC(_PaperAdam):
    """Old-style AdamW with GC on the gradient of conv and fc weights."""
    fixed = _paper(False, 'gradient', old_adamw=True)
    old_adamw = True


class AdamW_GCC(_PaperAdam):
    """Old-style AdamW with GC on the gradient of conv weights only."""
    fixed = _paper(True, 'gradient', old_adamw=True)
    old_adamw = True


class AdamW_GC2(_PaperAdam):
    """Old-style AdamW with GC on the final update (decay included) of conv
    and fc weights."""
    fixed = _paper(False, 'update', old_adamw=True)
    old_adamw = True


class AdamW_GCC2(_PaperAdam):
    """Old-style AdamW with GC on the final update (decay included) of conv
    weights only."""
    fixed = _paper(True, 'update', old_adamw=True)
    old_adamw = True
