"""The hardening suite: the whole bot over real sockets (the `bot` fixture of
tests/conftest.py, one stack per module), and the services under crashes. The services
run on a clock that starts at wall time, as in tests/service/."""

from __future__ import annotations

import pytest

from tests.support.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock.at_wall_time()
