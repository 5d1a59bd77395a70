"""Fixtures: the sandbox tenant over real HTTPS, settings in user mode, the store, an
identity resolver (app identity for directory look-ups), and the sign-in services. The
helpers the tests call (SignIn, log_in, Browser) are in tests/support/signin.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.graph import GraphPim, build_graph
from bot.graph.retry import RetryPolicy
from bot.service.identity import IdentityResolver
from bot.settings import Settings
from bot.simulators.sandbox import SandboxServer, SandboxTenant, create_app
from bot.store import SqlStore
from tests.support.clock import FakeClock
from tests.support.settings import make_settings
from tests.support.signin import Browser, SignIn, build_signin
from tests.support.slack_ports import FakeDirectory


@pytest.fixture
def server(sandbox_clock: FakeClock) -> Iterator[SandboxServer]:
    with SandboxServer(create_app(SandboxTenant.from_seed(sandbox_clock))) as running:
        yield running


@pytest.fixture
def settings(server: SandboxServer, tmp_path: Path) -> Settings:
    """User mode (`graph.identity: user`, a fresh token key) and nothing else configured."""
    return make_settings(tmp_path, sandbox=server, policy={}, identity="user")


@pytest.fixture
def store(settings: Settings, clock: FakeClock) -> Iterator[SqlStore]:
    opened = SqlStore.from_url(settings.pim_database_url, clock=clock)
    yield opened
    opened.close()


@pytest.fixture
async def app_graph(server: SandboxServer, tmp_path: Path) -> AsyncIterator[GraphPim]:
    """The application identity, used only to look users up for the identity mapping."""
    graph = build_graph(
        make_settings(sandbox=server, policy=tmp_path / "absent.yml"), retry=RetryPolicy.fast()
    )
    yield graph
    await graph.aclose()


@pytest.fixture
async def signin(
    settings: Settings, store: SqlStore, app_graph: GraphPim, clock: FakeClock
) -> AsyncIterator[SignIn]:
    resolver = IdentityResolver(app_graph, store, FakeDirectory(), settings.policy(), clock)
    built = build_signin(settings, store, resolver, clock)
    yield built
    await built.aclose()


@pytest.fixture
def browser(server: SandboxServer) -> Browser:
    return Browser(server)
