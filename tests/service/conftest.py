"""The service tests use the shared fixtures of tests/conftest.py (services wired as in
production against the sandbox tenant over HTTPS; Slack faked in memory) on a clock that
starts at wall time, as they always have: the moment the parts of the stack that read the
real clock (MSAL, the HTTP clients) see too, rather than the unit tests' fixed date."""

from __future__ import annotations

import pytest

from tests.support.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock.at_wall_time()
