"""Fixtures shared by the test files.

Helper modules next to this file (``_det_utils.py``, ``_torch_support.py``,
``_constructor_models.py``) hold shared code that tests import; fixtures that
any test can request by name live here.
"""
import socket

import pytest


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now, for a
    torch.distributed rendezvous (tests never use fixed ports: two test runs
    on one machine must not collide)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]
