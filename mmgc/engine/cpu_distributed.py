"""Multi-process training on CPUs (torchrun + gloo) with mmengine 0.10.

mmengine's launcher assumes a GPU per process: ``init_dist`` calls
``torch.cuda.set_device`` and ``Runner.wrap_model`` gives
``DistributedDataParallel`` ``device_ids=[LOCAL_RANK]``, both of which fail
on a machine without CUDA. ``tools/train.py`` and ``tools/test.py`` use the
two pieces below in that case, so ``tools/dist_train.sh`` also runs on a
laptop (with ``env_cfg.dist_cfg.backend=gloo``).
"""
import os
from datetime import timedelta

import torch
import torch.distributed as torch_dist
from mmengine.model import MMDistributedDataParallel

CPU_DDP_WRAPPER = 'CPUDistributedDataParallel'


class CPUDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` for models that live on the CPU.

    The Runner passes ``device_ids=[LOCAL_RANK]`` to every DDP wrapper; DDP
    refuses ``device_ids`` for CPU modules, so they are dropped here. The
    wrapper is meant for CPU models only and says so otherwise.
    """

    def __init__(self, module, device_ids=None, output_device=None,
                 **kwargs):
        devices = {p.device.type for p in module.parameters()}
        if devices - {'cpu'}:
            raise ValueError(
                f'{CPU_DDP_WRAPPER} wraps CPU models, but this model has '
                f'parameters on {sorted(devices)}. Remove model_wrapper_cfg '
                'from the config to use the default GPU wrapper.')
        super().__init__(module=module, **kwargs)


def init_cpu_process_group(dist_cfg: dict) -> None:
    """Join the process group that torchrun set up, without CUDA.

    Args:
        dist_cfg: The config's ``env_cfg.dist_cfg`` (``backend``, optional
            ``timeout`` in seconds).
    """
    backend = dist_cfg.get('backend', 'nccl')
    if backend != 'gloo':
        raise RuntimeError(
            f'Distributed training without GPUs needs the gloo backend, but '
            f'the config sets env_cfg.dist_cfg.backend={backend!r}. Add '
            '"--cfg-options env_cfg.dist_cfg.backend=gloo" to the command.')
    missing = [
        name for name in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')
        if name not in os.environ
    ]
    if missing:
        raise RuntimeError(
            f'--launcher pytorch expects the variables torchrun sets, but '
            f'{missing} are missing. Start the job with tools/dist_train.sh '
            '(or torchrun).')
    timeout = dist_cfg.get('timeout')
    kwargs = {} if timeout is None else dict(
        timeout=timedelta(seconds=timeout))
    torch_dist.init_process_group(backend='gloo', **kwargs)


def needs_cpu_distributed(launcher: str) -> bool:
    """True when a torchrun job runs on a machine without CUDA."""
    return launcher == 'pytorch' and not torch.cuda.is_available()
