"""torch.optim.Adam and AdamW with Gradient Centralization (``GCAdam``,
``GCAdamW``).

Where GC acts is chosen per param group by ``gc_loc``:

* ``gc_loc=True``: the gradient (after L2 decay is added) is centralized
  before it enters the moments;
* ``gc_loc=False`` (default, the advice of the GC authors for adaptive
  methods): the moments see the raw gradient and the final update
  ``step_size * m / denom`` is centralized, together with AdamW's decoupled
  decay ``lr * wd * w``, so each weight slice keeps its mean.

Tensors GC does not touch (1-D, or not conv with ``gc_conv_only``), and every
tensor with ``use_gc=False``, take exactly torch's single-tensor operations:
bit-identical results, torch's state layout (``step``, ``exp_avg``,
``exp_avg_sq``, ``max_exp_avg_sq``).

AdamW's decay is torch's ``w *= 1 - lr * wd``. The authors' advanced AdamW
scaled it by ``lr / (1 - beta1^t)`` (ten times ``lr`` at step 1); that is not
reproduced.
"""
from typing import List, Optional

import torch
from torch import Tensor
from torch.optim import Adam, AdamW

from ._validation import reject_unknown_kwargs
from .gc_group import GCGroupMixin, as_float, scalar_dtype
from .gc_ops import centralize, centralize_, check_not_sparse, gc_applies

__all__ = ['GCAdam', 'GCAdamW', 'gc_adam']

_ARGS = ('lr', 'betas', 'eps', 'weight_decay', 'amsgrad', 'use_gc',
         'gc_conv_only', 'gc_loc', 'maximize', 'foreach', 'capturable',
         'differentiable', 'fused')


class GCAdam(GCGroupMixin, Adam):
    """Adam (L2 weight decay) with GC.

    Args:
        params: Parameters or param groups; a group may set ``use_gc``,
            ``gc_conv_only`` and ``gc_loc`` for itself.
        lr, betas, eps, weight_decay, amsgrad, maximize: as in
            :class:`torch.optim.Adam`.
        use_gc (bool): Centralize weights with ``ndim > 1``. Default True.
        gc_conv_only (bool): Only conv weights (``ndim > 3``). Default False.
        gc_loc (bool): True: centralize the gradient before the moments;
            False: centralize the final update. Default False.

    ``p.grad`` is only read. ``foreach``, ``fused``, ``capturable`` and
    ``differentiable`` exist for signature parity and must stay off.
    """

    gc_options = ('use_gc', 'gc_conv_only', 'gc_loc')
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
                 gc_loc: bool = False,
                 maximize: bool = False,
                 foreach: Optional[bool] = None,
                 capturable: bool = False,
                 differentiable: bool = False,
                 fused: Optional[bool] = None,
                 **unknown):
        reject_unknown_kwargs(type(self).__name__, unknown, _ARGS)
        self._refuse_unsupported(foreach=foreach, fused=fused,
                                 capturable=capturable,
                                 differentiable=differentiable)
        # Adam.__init__ explicitly: in GCAdamW's MRO, super() is AdamW, whose
        # signature has no decoupled_weight_decay.
        Adam.__init__(self, params, lr, betas, eps, weight_decay, amsgrad,
                      maximize=maximize, foreach=foreach,
                      capturable=capturable, differentiable=differentiable,
                      fused=fused, decoupled_weight_decay=self._decoupled)
        self._init_gc(use_gc=use_gc, gc_conv_only=gc_conv_only,
                      gc_loc=gc_loc)

    def _gather(self, group, params, grads, exp_avgs, exp_avg_sqs,
                max_exp_avg_sqs, state_steps) -> None:
        rule = self._gc_rule(group)
        for p in group['params']:
            if p.grad is None:
                continue
            check_not_sparse(p.grad, p, type(self).__name__, rule)
            if p.grad.is_sparse:
                raise RuntimeError(
                    f'{type(self).__name__} does not support sparse gradients '
                    f'(parameter of shape {tuple(p.shape)}); use '
                    'torch.optim.SparseAdam or a dense layer.')
            if torch.is_complex(p):
                raise RuntimeError(
                    f'{type(self).__name__} does not support complex '
                    f'parameters (shape {tuple(p.shape)}); use torch.optim.'
                    f'{Adam.__name__} for them.')
            state = self.state[p]
            if 'step' not in state:
                state['step'] = torch.tensor(0.0, dtype=scalar_dtype())
                state['exp_avg'] = torch.zeros_like(
                    p, memory_format=torch.preserve_format)
                state['exp_avg_sq'] = torch.zeros_like(
                    p, memory_format=torch.preserve_format)
                if group['amsgrad']:
                    state['max_exp_avg_sq'] = torch.zeros_like(
                        p, memory_format=torch.preserve_format)
            params.append(p)
            grads.append(p.grad)
            exp_avgs.append(state['exp_avg'])
            exp_avg_sqs.append(state['exp_avg_sq'])
            if group['amsgrad']:
                max_exp_avg_sqs.append(state['max_exp_avg_sq'])
            state_steps.append(state['step'])

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()

        for group in self.param_groups:
            params, grads, exp_avgs, exp_avg_sqs = [], [], [], []
            max_exp_avg_sqs, state_steps = [], []
            self._gather(group, params, grads, exp_avgs, exp_avg_sqs,
                         max_exp_avg_sqs, state_steps)
            beta1, beta2 = group['betas']
            gc_adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs,
                    state_steps,
                    amsgrad=group['amsgrad'],
                    beta1=beta1,
                    beta2=beta2,
                    lr=group['lr'],
                    weight_decay=group['weight_decay'],
                    eps=group['eps'],
                    maximize=group['maximize'],
                    decoupled_weight_decay=group['decoupled_weight_decay'],
                    use_gc=group['use_gc'],
                    gc_conv_only=group['gc_conv_only'],
                    gc_loc=group['gc_loc'])
        return loss


class GCAdamW(GCAdam, AdamW):
    """AdamW (torch's decoupled decay ``w *= 1 - lr * wd``) with GC.

    Same arguments as :class:`GCAdam`; ``weight_decay`` defaults to 1e-2 as
    in :class:`torch.optim.AdamW`. With ``gc_loc=False`` the decay term is
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


def gc_adam(params: List[Tensor],
            grads: List[Tensor],
            exp_avgs: List[Tensor],
            exp_avg_sqs: List[Tensor],
            max_exp_avg_sqs: List[Tensor],
            state_steps: List[Tensor],
            *,
            amsgrad: bool,
            beta1: float,
            beta2: float,
            lr: float,
            weight_decay: float,
            eps: float,
            maximize: bool,
            decoupled_weight_decay: bool,
            use_gc: bool,
            gc_conv_only: bool,
            gc_loc: bool) -> None:
    """Functional GCAdam / GCAdamW. Moments, ``max_exp_avg_sqs`` and step
    counters are updated in place; ``grads`` are only read."""
    _single_tensor_gc_adam(
        params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps,
        amsgrad=amsgrad, beta1=beta1, beta2=beta2, lr=lr,
        weight_decay=weight_decay, eps=eps, maximize=maximize,
        decoupled_weight_decay=decoupled_weight_decay, use_gc=use_gc,
        gc_conv_only=gc_conv_only, gc_loc=gc_loc)


def _single_tensor_gc_adam(params, grads, exp_avgs, exp_avg_sqs,
                           max_exp_avg_sqs, state_steps, *, amsgrad, beta1,
                           beta2, lr, weight_decay, eps, maximize,
                           decoupled_weight_decay, use_gc, gc_conv_only,
                           gc_loc):
    lr = as_float(lr)
    beta1, beta2 = as_float(beta1), as_float(beta2)
    for i, param in enumerate(params):
        grad = grads[i] if not maximize else -grads[i]
        exp_avg = exp_avgs[i]
        exp_avg_sq = exp_avg_sqs[i]
        step_t = state_steps[i]
        gc_here = use_gc and gc_applies(param, gc_conv_only)
        gc_update = gc_here and not gc_loc

        step_t += 1

        if weight_decay != 0:
            if decoupled_weight_decay:
                # With gc_update the decay joins the centralized update below.
                if not gc_update:
                    param.mul_(1 - lr * weight_decay)
            else:
                grad = grad.add(param, alpha=weight_decay)

        if gc_here and gc_loc:
            grad = centralize(grad, gc_conv_only)

        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)

        step = step_t.item()
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        step_size = lr / bias_correction1
        bias_correction2_sqrt = bias_correction2**0.5

        if amsgrad:
            torch.maximum(max_exp_avg_sqs[i], exp_avg_sq,
                          out=max_exp_avg_sqs[i])
            denom = (max_exp_avg_sqs[i].sqrt() /
                     bias_correction2_sqrt).add_(eps)
        else:
            denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)

        if gc_update:
            update = torch.div(exp_avg, denom).mul_(step_size)
            if decoupled_weight_decay and weight_decay != 0:
                update.add_(param, alpha=lr * weight_decay)
            param.sub_(centralize_(update, gc_conv_only))
        else:
            param.addcdiv_(exp_avg, denom, value=-step_size)
