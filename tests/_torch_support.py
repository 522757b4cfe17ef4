"""What the installed torch itself can do, for tests that compare with it.

mmgc supports torch 2.0-2.14; a test that needs a torch feature added inside
that range skips on older releases, saying which feature and release.
"""
import functools
import inspect
import subprocess
import sys
import tempfile
import textwrap

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


def _trains_in_one_process(wrap: str, step: bool = True) -> bool:
    """Whether a Linear layer wrapped by the code ``wrap`` (a Python
    expression of ``model``) does a training step on the CPU (with
    ``step=False``: is wrapped at all), in a fresh interpreter with a
    one-process gloo group."""
    with tempfile.TemporaryDirectory() as folder:
        code = textwrap.dedent(f"""
            import torch, torch.distributed as dist
            from torch.distributed import fsdp
            dist.init_process_group('gloo', init_method='file://{folder}/pg',
                                    rank=0, world_size=1)
            model = torch.nn.Linear(2, 2)
            model = {wrap}
            if {step}:
                model(torch.ones(1, 2)).sum().backward()
            dist.destroy_process_group()
            """)
        return subprocess.run([sys.executable, '-c', code],
                              capture_output=True, timeout=300).returncode == 0


@functools.lru_cache(maxsize=None)
def fsdp1_runs_on_cpu() -> bool:
    """torch 2.0's FSDP1 computes on CUDA only, 2.1's asks the CPU for
    streams it does not have; found out by trying."""
    return _trains_in_one_process(
        "fsdp.FullyShardedDataParallel(model, device_id=torch.device('cpu'))")


@functools.lru_cache(maxsize=None)
def fsdp1_wraps_on_cpu() -> bool:
    """Whether FSDP1 can wrap a module on the CPU at all (torch 2.0 moves
    it to CUDA while wrapping; 2.1 wraps it and fails in the step)."""
    return _trains_in_one_process(
        "fsdp.FullyShardedDataParallel(model, device_id=torch.device('cpu'))",
        step=False)


def skip_unless_fsdp1_wraps_on_cpu() -> None:
    if not fsdp1_wraps_on_cpu():
        pytest.skip(f'torch {torch.__version__}: FSDP1 cannot wrap a module '
                    'on the CPU (torch 2.0 computes on CUDA only)')


def skip_unless_fsdp1_runs_on_cpu() -> None:
    if not fsdp1_runs_on_cpu():
        pytest.skip(f'torch {torch.__version__}: FSDP1 does not run on the '
                    'CPU (torch 2.0 computes on CUDA only, 2.1 lacks CPU '
                    'streams), nothing to shard here')


@functools.lru_cache(maxsize=None)
def fsdp2_runs_on_cpu() -> bool:
    """FSDP2 is public as torch.distributed.fsdp.fully_shard from torch 2.6
    (torch 2.0 and 2.1 have FSDP1 only); whether it runs on the CPU is found
    out by trying."""
    import torch.distributed.fsdp as fsdp
    return hasattr(fsdp, 'fully_shard') and _trains_in_one_process(
        'fsdp.fully_shard(model)')


def skip_unless_fsdp2_runs_on_cpu() -> None:
    import torch.distributed.fsdp as fsdp
    if not hasattr(fsdp, 'fully_shard'):
        pytest.skip('FSDP2 (torch.distributed.fsdp.fully_shard) needs torch '
                    f'>= 2.6; the installed torch {torch.__version__} has not '
                    '(torch 2.0 and 2.1 have FSDP1 only)')
    if not fsdp2_runs_on_cpu():
        pytest.skip(f'torch {torch.__version__}: FSDP2 does not run on the '
                    'CPU, nothing to shard here')
