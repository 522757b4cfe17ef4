"""Classification parts mmpretrain lacks for the GC paper's experiments.

Importing this package registers :class:`DenseNetCIFAR` and
:class:`ResNeXtCIFAR` in mmpretrain's ``MODELS`` (the code is in
:mod:`mmgc.register`); the DenseNet and ResNeXt configs import it through
``custom_imports``, ``import mmgc`` alone does not (it never imports
mmpretrain).
"""
import importlib.util

if importlib.util.find_spec('mmpretrain') is None:
    raise ModuleNotFoundError(
        "mmgc.classification builds on mmpretrain, which is not installed: "
        "pip install 'mmpretrain>=1.0.0,<2.0' (or mmgc's classification "
        'extra).', name='mmpretrain')

from mmgc.register import register_classification  # noqa: E402

from .densenet_cifar import DenseNetCIFAR  # noqa: E402
from .resnext_cifar import ResNeXtCIFAR  # noqa: E402

register_classification(densenet_cifar=DenseNetCIFAR,
                        resnext_cifar=ResNeXtCIFAR)

__all__ = ['DenseNetCIFAR', 'ResNeXtCIFAR']
