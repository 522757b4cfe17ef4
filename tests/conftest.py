"""Fixtures shared by the test files.

Helper modules next to this file (``_det_utils.py``, ``_torch_support.py``,
``_constructor_models.py``) hold shared code that tests import; fixtures that
any test can request by name live here.
"""
import socket
import time

import pytest
import torch.multiprocessing as mp


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now, for a
    torch.distributed rendezvous (tests never use fixed ports: two test runs
    on one machine must not collide)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture
def run_two_ranks(free_port):
    """``run(worker, *args)`` runs ``worker(rank, 2, port, *args, out)`` in
    two spawned processes and returns what rank 0 put into the queue
    ``out``.

    The result is read before the processes are joined (a process that put
    an object into a queue may not exit before it is read), and processes
    still running after ``timeout`` seconds fail the test instead of hanging
    the suite.
    """

    def run(worker, *args, timeout: float = 240):
        out = mp.get_context('spawn').Queue()
        processes = mp.spawn(worker, args=(2, free_port, *args, out),
                             nprocs=2, join=False)
        deadline = time.monotonic() + timeout
        try:
            result = out.get(timeout=timeout)
            while not processes.join(timeout=5):
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f'{worker.__name__}: processes still running after '
                        f'{timeout} s')
        finally:
            for process in processes.processes:
                if process.is_alive():
                    process.terminate()
        return result

    return run
