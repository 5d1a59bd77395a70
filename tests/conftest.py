"""Shared fixtures. Keep fixtures that one area needs in that area's conftest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.clock import FakeClock

DATA = Path(__file__).parent / "data"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def graph_schema() -> dict[str, Any]:
    return json.loads((DATA / "graph-pim-v1.0.schema.json").read_text())
