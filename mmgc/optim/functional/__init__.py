"""The kernels of mmgc's optimizers: the math of one step on lists of
tensors, one module per algorithm family, as in torch.optim's functional
API. The optimizer classes gather tensors and state and call these.

* :func:`sgd` (``functional/sgd.py``): SGD with momentum + GC; used by the
  paper's SGD(W)_GC(C) and by GCSGD;
* :func:`adam` (``functional/adam.py``): Adam, AdamW and the paper's old
  AdamW, GC on the gradient or on the update; used by Adam(W)_GC(C)(2),
  GCAdam and GCAdamW;
* :func:`radam` (``functional/radam.py``): RAdam + GC; used by GCRAdam and
  Ranger;
* :func:`adagrad` (``functional/adagrad.py``): Adagrad + GC; used by
  Adagrad_GC(C).

``sgd`` and ``adam`` have a single-tensor and a multi-tensor (``foreach``)
path side by side, bit-identical on CPU. Every kernel calls the GC operator
of :mod:`mmgc.optim.gc_ops` and only reads the gradients.
"""
from .adagrad import adagrad
from .adam import adam
from .radam import radam
from .sgd import sgd

__all__ = ['sgd', 'adam', 'radam', 'adagrad']
