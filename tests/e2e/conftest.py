"""One bot stack per test module (servers are slow to start); each test starts clean."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.stack import BotStack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotStack]:
    with BotStack(Path(tmp_path_factory.mktemp("e2e"))) as running:
        yield running


@pytest.fixture
def bot(stack: BotStack) -> BotStack:
    stack.reset()
    return stack
