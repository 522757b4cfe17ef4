"""How the tests' two worker processes (``run_two_ranks`` in conftest.py)
join and leave their gloo process group."""
import contextlib
import gc
import os

import torch.distributed as dist

from mmgc.engine.tool_setup import finish_distributed


def announce_ranks(rank: int, world_size: int, port: int) -> None:
    """This process's place in a group on this machine, in the environment
    as torchrun sets it (torch, mmengine and DeepSpeed read it)."""
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port),
                      RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world_size))


def join_gloo_group(rank: int, world_size: int, port: int) -> None:
    """The default process group over gloo on this machine."""
    announce_ranks(rank, world_size, port)
    dist.init_process_group('gloo', rank=rank, world_size=world_size)


@contextlib.contextmanager
def leaving_together():
    """Ends the default process group after the block.

    After a block that ran through, the ranks leave in step as
    tools/train.py's do (``finish_distributed``: a barrier, then the group
    goes), after collecting what holds communication state and is no longer
    referenced (DeepSpeed turns Python's automatic cyclic collection off
    while an engine lives). A rank that exits while its peer still has gloo
    traffic in flight can make the peer's gloo thread abort the process
    (SIGABRT) after the results are in. After a block that raised, the group
    just goes: the peer may never arrive.
    """
    try:
        yield
    except BaseException:
        if dist.is_initialized():
            dist.destroy_process_group()
        raise
    gc.collect()
    finish_distributed()
