"""Fixtures shared by the test files.

Helper modules next to this file (``_det_utils.py``, ``_torch_support.py``,
``_constructor_models.py``, ``_lanes.py``) hold shared code that tests
import; fixtures that any test can request by name live here, and so does
the rule that keeps ``-m`` from importing test files of other lanes.
"""
import queue
import socket
import time

import pytest
import torch.multiprocessing as mp

from _lanes import may_select


def pytest_ignore_collect(collection_path, config):
    """Under ``-m``, leave out the test files the expression cannot select,
    without importing them: a file of a lane whose packages the environment
    lacks (mmdet in an optimizer-only one) would fail at import although
    none of its tests was asked for."""
    expression = config.getoption('markexpr')
    if (expression and collection_path.suffix == '.py'
            and collection_path.name.startswith('test_')
            and not may_select(expression, collection_path)):
        return True
    return None


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
    an object into a queue may not exit before it is read). A worker that
    raises fails the test at once with its traceback, and processes still
    running after ``timeout`` seconds fail it instead of hanging the suite.
    """

    def run(worker, *args, timeout: float = 240):
        out = mp.get_context('spawn').Queue()
        processes = mp.spawn(worker, args=(2, free_port, *args, out),
                             nprocs=2, join=False)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    result = out.get(timeout=1)
                    break
                except queue.Empty:
                    pass
                # Raises ProcessRaisedException, with the worker's
                # traceback, when a rank failed.
                if processes.join(timeout=0.1):
                    try:  # put just before the processes exited?
                        result = out.get(timeout=5)
                        break
                    except queue.Empty:
                        raise RuntimeError(
                            f'{worker.__name__}: the processes exited '
                            'without a result') from None
                if time.monotonic() > deadline:
                    raise TimeoutError(f'{worker.__name__}: no result after '
                                       f'{timeout} s')
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


@pytest.fixture(scope='module')
def toy_root(request, tmp_path_factory):
    """A toy dataset, written once for each test module that asks for it:
    the one its ``TOY_DATA`` settings describe (``ToyCocoSettings`` or
    ``ToyClsSettings``)."""
    from mmgc.datasets import (ToyClsSettings, ToyCocoSettings,
                               generate_toy_cls, generate_toy_coco)
    generators = {ToyCocoSettings: ('toy_coco', generate_toy_coco),
                  ToyClsSettings: ('toy_cls', generate_toy_cls)}
    settings = getattr(request.module, 'TOY_DATA', None)
    if type(settings) not in generators:
        raise TypeError(
            f'{request.module.__name__} uses toy_root: set TOY_DATA to '
            'ToyCocoSettings(...) or ToyClsSettings(...)')
    name, generate = generators[type(settings)]
    root = tmp_path_factory.mktemp(name)
    generate(root, settings)
    return root


@pytest.fixture(scope='module')
def digits_root(tmp_path_factory):
    """A few images of the digit-detection set (needs the [digits] extra),
    written once for each test module that asks for it."""
    from mmgc.datasets.digits_coco import (DigitsCocoSettings,
                                           generate_digits_coco)
    root = tmp_path_factory.mktemp('digits_coco')
    generate_digits_coco(root, DigitsCocoSettings(num_train=8, num_val=4))
    return root
