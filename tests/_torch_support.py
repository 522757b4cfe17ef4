"""What the installed torch itself can do, for tests that compare with it.

mmgc supports torch 2.0-2.14; a test that needs a torch feature added inside
that range skips on older releases, saying which feature and release.
"""
import functools
import inspect

import pytest
import torch

from mmgc.torch_compat import TORCH_OPTION_SINCE


def skip_unless_torch_accepts(torch_cls: type, options: dict) -> None:
    """Skip when ``torch_cls`` of the installed torch lacks an option in
    ``options`` (there is no torch result to compare with)."""
    accepted = inspect.signature(torch_cls.__init__).parameters
    for name in options:
        if name not in accepted:
            since = TORCH_OPTION_SINCE.get((torch_cls.__name__, name), '?')
            pytest.skip(f'torch {torch.__version__}: torch.optim.'
                        f'{torch_cls.__name__} has no {name!r} (added in '
                        f'torch {since}), nothing to compare with')


@functools.lru_cache(maxsize=None)
def cpu_kernels_support(dtype: torch.dtype) -> bool:
    """Whether the installed torch has the CPU kernels an optimizer step
    needs for ``dtype`` (torch < 2.2 lacks e.g. addcdiv for float16)."""
    try:
        x = torch.ones(2, dtype=dtype)
        x.addcdiv_(x, x.sqrt(), value=-0.1)
        x.lerp_(x, 0.5)
        x.addcmul_(x, x, value=0.1)
        x.mean(dim=(0, ), keepdim=True)
        torch._foreach_addcdiv_([x], [x], [x], value=0.1)
    except RuntimeError:
        return False
    return True


def skip_unless_cpu_kernels_support(dtype: torch.dtype) -> None:
    if not cpu_kernels_support(dtype):
        pytest.skip(f'torch {torch.__version__} has no CPU kernels for '
                    f'optimizer steps in {dtype}')
