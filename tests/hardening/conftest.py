"""The hardening suite: the whole bot over real sockets, under faults and hostile input.
One stack per module (servers are slow to start); each test starts from the seed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service.conftest import (  # noqa: F401 - service-level fixtures, used by name
    clock,
    directory,
    faults,
    notifier,
    sandbox,
    services,
    settings,
    tenant,
)
from tests.support.stack import BotStack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotStack]:
    with BotStack(Path(tmp_path_factory.mktemp("hardening"))) as running:
        yield running


@pytest.fixture
def bot(stack: BotStack) -> BotStack:
    stack.reset()
    return stack
