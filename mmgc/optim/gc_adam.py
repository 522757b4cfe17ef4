"""torch.optim.Adam and AdamW with Gradient Centralization (``GCAdam``,
``GCAdamW``).

Where GC acts is chosen per param group by ``gc_loc``:

* ``gc_loc='gradient'`` (``True``): the gradient (after L2 decay is added)
  is centralized before it enters the moments;
* ``gc_loc='update'`` (``False``; the default, the advice of the GC authors
  for adaptive methods): the moments see the raw gradient and the final update
  ``step_size * m / denom`` is centralized, together with AdamW's decoupled
  decay ``lr * wd * w``, so each weight slice keeps its mean.

The math is the Adam kernel shared with the paper's optimizers
(:func:`mmgc.optim.functional.adam` with ``arithmetic='torch'``), with a
single-tensor and a multi-tensor (``foreach``) path. Tensors GC does not
touch (1-D, or not conv with ``gc_conv_only``), and every tensor with
``use_gc=False``, take exactly torch's operations (its single-tensor path for
``foreach=False``, its foreach path for ``foreach=True``; bit-identical on
CPU), and the state layout is torch's (tensor ``step``, ``exp_avg``,
``exp_avg_sq``, ``max_exp_avg_sq``).

AdamW's decay is torch's ``w *= 1 - lr * wd``. The authors' advanced AdamW
scaled it by ``lr / (1 - beta1^t)`` (ten times ``lr`` at step 1); that is not
reproduced.
"""
from typing import Optional, Union

import torch
from torch.optim import Adam, AdamW

from mmgc import torch_compat

from . import functional as F
from ._validation import (StateFamilyMixin, check_betas, check_flags,
                          check_non_negative, reject_unknown_kwargs)
from .gc_group import GCGroupMixin, as_float, scalar_dtype
from .gc_ops import check_not_sparse
from .placement import kernel_gc_args

__all__ = ['GCAdam', 'GCAdamW', 'init_group']

_ARGS = ('lr', 'betas', 'eps', 'weight_decay', 'amsgrad', 'use_gc',
         'gc_conv_only', 'gc_loc', 'maximize', 'foreach', 'capturable',
         'differentiable', 'fused')


def init_group(optimizer, group: dict, conv_only, params, grads, exp_avgs,
               exp_avg_sqs, max_exp_avg_sqs, state_steps) -> None:
    """Gather a param group's tensors and state for the Adam-family kernels
    (GCAdam, GCAdamW, GCRAdam), creating the state as torch does: a tensor
    ``step``, zero moments, and ``max_exp_avg_sq`` with amsgrad."""
    name = type(optimizer).__name__
    amsgrad = group.get('amsgrad', False)
    for p in group['params']:
        if p.grad is None:
            continue
        check_not_sparse(p.grad, p, name, conv_only)
        if p.grad.is_sparse:
            raise RuntimeError(
                f'{name} does not support sparse gradients (parameter of '
                f'shape {tuple(p.shape)}); use a dense layer, or '
                'torch.optim.SparseAdam for it.')
        if torch.is_complex(p):
            raise RuntimeError(
                f'{name} does not support complex parameters (shape '
                f'{tuple(p.shape)}); use the torch.optim optimizer for them.')
        state = optimizer.state[p]
        if 'step' not in state:
            state['step'] = torch.tensor(0.0, dtype=scalar_dtype())
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


class GCAdam(StateFamilyMixin, GCGroupMixin, Adam):
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

    gc_options = ('use_gc', 'gc_conv_only', 'gc_loc')
    state_keys = frozenset({'step', 'exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'})
    group_keys = ('betas', )
    _decoupled = False

    def __init__(self,
                 params,
                 lr: float = 1e-3,
                 betas=(0.9, 0.999),
                 eps: float = 1e-8,
                 weight_decay: float = 0,
                 amsgrad: bool = False,
                 *,
                 use_gc: bool = True,
                 gc_conv_only: bool = False,
                 gc_loc: Union[bool, str] = False,
                 maximize: bool = False,
                 foreach: Optional[bool] = None,
                 capturable: bool = False,
                 differentiable: bool = False,
                 fused: Optional[bool] = None,
                 **unknown):
        name = type(self).__name__
        reject_unknown_kwargs(name, unknown, _ARGS)
        self._refuse_unsupported(fused=fused, capturable=capturable,
                                 differentiable=differentiable)
        check_non_negative(name, lr=lr, eps=eps, weight_decay=weight_decay)
        check_betas(name, betas)
        check_flags(name, amsgrad=amsgrad, maximize=maximize)
        # Before torch 2.7, AdamW is no subclass of Adam: Adam.__init__ would
        # reach AdamW.__init__ through GCAdamW's MRO.
        torch_compat.init_torch_optimizer(
            AdamW if self._decoupled else Adam, self, params, lr=lr,
            betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
            maximize=maximize, foreach=foreach, capturable=capturable,
            differentiable=differentiable, fused=fused,
            decoupled_weight_decay=self._decoupled)
        self._init_gc(use_gc=use_gc, gc_conv_only=gc_conv_only,
                      gc_loc=gc_loc)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()

        for group in self.param_groups:
            conv_only, location = kernel_gc_args(self.gc_placement(group))
            params, grads, exp_avgs, exp_avg_sqs = [], [], [], []
            max_exp_avg_sqs, state_steps = [], []
            init_group(self, group, conv_only, params, grads, exp_avgs,
                       exp_avg_sqs, max_exp_avg_sqs, state_steps)
            # torch's tensor step counters, incremented as torch does.
            steps = []
            for step_t in state_steps:
                step_t += 1
                steps.append(step_t.item())
            beta1, beta2 = group['betas']
            F.adam(params, grads, exp_avgs, exp_avg_sqs,
                   max_exp_avg_sqs if group['amsgrad'] else
                   [None] * len(params),
                   steps,
                   amsgrad=group['amsgrad'],
                   beta1=as_float(beta1),
                   beta2=as_float(beta2),
                   lr=as_float(group['lr']),
                   weight_decay=group['weight_decay'],
                   eps=group['eps'],
                   conv_only=conv_only,
                   gc_loc=location,
                   weight_decay_mode=('decoupled'
                                      if group['decoupled_weight_decay'] else
                                      'l2'),
                   maximize=group['maximize'],
                   arithmetic='torch',
                   foreach=group.get('foreach'))
        return loss


class GCAdamW(GCAdam, AdamW):
    """AdamW (torch's decoupled decay ``w *= 1 - lr * wd``) with GC.

    Same arguments as :class:`GCAdam`; ``weight_decay`` defaults to 1e-2 as
    in :class:`torch.optim.AdamW`. With ``gc_loc='update'`` the decay term is
    centralized together with the update.
    """

    _decoupled = True

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
