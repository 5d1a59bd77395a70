"""The fixtures every area shares, registered here once. What they build lives in
tests/support/ (stacks, fakes, the Contoso cast, the settings factory); an area's own
conftest keeps only what is particular to it.

- `clock`: a FakeClock at a fixed moment; `sandbox_clock`: one an hour ahead of wall time;
- `database_url` (SQLite, and PostgreSQL when PIM_TEST_DATABASE_URL is set), `engine`,
  `store`;
- the services as in production against the sandbox tenant over HTTPS, Slack faked in
  memory: `tenant`, `faults`, `sandbox`, `settings`, `directory`, `notifier`, `services`;
- `stack` (one BotStack per module: the bot over real HTTP) and `bot` (that stack, reset).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from bot.settings import Settings
from bot.simulators.sandbox import Faults, SandboxServer, SandboxTenant, create_app
from bot.store import SqlStore, make_engine
from bot.wiring import Services
from tests.support.clock import FakeClock
from tests.support.databases import postgres_url
from tests.support.services import wire
from tests.support.settings import make_settings
from tests.support.slack_ports import FakeDirectory, RecordingNotifier
from tests.support.stack import BotStack

DATA = Path(__file__).parent / "data"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox_clock() -> FakeClock:
    # Ahead of the bot's real clock, as a Graph clock may be: Graph moves the start up.
    return FakeClock(datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1))


@pytest.fixture(scope="session")
def graph_schema() -> dict[str, Any]:
    return json.loads((DATA / "graph-pim-v1.0.schema.json").read_text())


# -- databases ---------------------------------------------------------------------------


# The PostgreSQL variants are slow: a schema of their own, migrated, for each (~0.5 s).
@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """SQLite always; PostgreSQL (a schema of its own) when PIM_TEST_DATABASE_URL is set."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'pimbot.db'}"
    else:
        yield from postgres_url()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine: Engine, clock: FakeClock) -> SqlStore:
    return SqlStore(engine, clock=clock)


# -- services against the sandbox tenant ----------------------------------------------------


@pytest.fixture
def tenant(clock: FakeClock) -> SandboxTenant:
    return SandboxTenant.from_seed(clock)


@pytest.fixture
def faults() -> Faults:
    return Faults()


@pytest.fixture
def sandbox(tenant: SandboxTenant, faults: Faults) -> Iterator[SandboxServer]:
    with SandboxServer(create_app(tenant, faults=faults), tls=True) as server:
        yield server


@pytest.fixture
def settings(sandbox: SandboxServer, tmp_path: Path) -> Settings:
    return make_settings(tmp_path, sandbox=sandbox)


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def directory() -> FakeDirectory:
    return FakeDirectory()


@pytest.fixture
async def services(
    settings: Settings, clock: FakeClock, directory: FakeDirectory, notifier: RecordingNotifier
) -> AsyncIterator[Services]:
    built = wire(settings, clock, directory, notifier)
    yield built
    await built.aclose()


# -- the bot over real HTTP -------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotStack]:
    """One bot stack per test module (servers are slow to start)."""
    with BotStack(tmp_path_factory.mktemp("stack")) as running:
        yield running


@pytest.fixture
def bot(stack: BotStack) -> BotStack:
    """The module's stack, back to the seeded tenant with empty call logs."""
    stack.reset()
    return stack
