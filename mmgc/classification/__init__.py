"""Classification parts mmpretrain lacks for the GC paper's experiments.

Registered into mmpretrain's ``MODELS`` by :mod:`mmgc.register`.
"""
from .densenet_cifar import DenseNetCIFAR

__all__ = ['DenseNetCIFAR']
