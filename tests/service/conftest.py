"""The service tests use the shared fixtures of tests/conftest.py (services wired as in
production against the sandbox tenant over HTTPS; Slack faked in memory) on a clock that
starts at wall time: the sandbox's TLS certificate and MSAL's token cache go by it."""

from __future__ import annotations

import pytest

from tests.support.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock.at_wall_time()
