"""Signed-in-user mode's MSAL token acquisitions in the metrics
(`pimbot_token_acquisitions_total{identity="user",source}`): a Graph call served by the
user's MSAL cache counts as "cache", one that needed the sandbox's token endpoint (a
forced refresh with the refresh token) as "authority"."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.graph import GraphPim
from bot.metrics import Metrics
from bot.service.identity import IdentityResolver
from bot.settings import Settings
from bot.signin.wiring import build_user_mode
from bot.simulators.sandbox import Faults, SandboxServer
from bot.store import SqlStore
from tests.support.cast import ALINE
from tests.support.clock import FakeClock
from tests.support.signin import Browser, SignIn, log_in
from tests.support.slack_ports import FakeDirectory

pytestmark = pytest.mark.slow  # real MSAL over HTTP to the sandbox

ACTIVE = "/v1.0/roleManagement/directory/roleAssignmentScheduleInstances"
TOKEN_PATH = "/oauth2/v2.0/token"


@pytest.fixture
async def counted(
    settings: Settings, store: SqlStore, app_graph: GraphPim, clock: FakeClock
) -> AsyncIterator[tuple[SignIn, Metrics]]:
    metrics = Metrics()
    parts = build_user_mode(settings, engine=store.engine, clock=clock, metrics=metrics)
    resolver = IdentityResolver(app_graph, store, FakeDirectory(), settings.policy(), clock)
    built = SignIn(parts, parts.sign_ins(resolver, audit=store))
    yield built, metrics
    await built.aclose()


def acquisitions(metrics: Metrics, source: str) -> float:
    value = metrics.registry.get_sample_value(
        "pimbot_token_acquisitions_total", {"identity": "user", "source": source}
    )
    return value or 0.0


def token_posts(faults: Faults) -> int:
    return sum(1 for c in faults.find("POST") if c.path.endswith(TOKEN_PATH))


async def test_user_tokens_from_the_cache_and_from_the_authority_are_counted(
    counted: tuple[SignIn, Metrics], browser: Browser, server: SandboxServer
) -> None:
    signin, metrics = counted
    await log_in(signin, browser, "U_ALINE", ALINE.upn)  # its own Graph calls count too
    faults: Faults = server.app.state.faults
    cached, fetched = acquisitions(metrics, "cache"), acquisitions(metrics, "authority")
    tokens, reads = token_posts(faults), len(faults.find("GET"))
    async with signin.acting("U_ALINE") as graph:
        await graph.list_active(ALINE.id)
        await graph.list_active(ALINE.id)
    # ActingAuth keeps no token: every Graph call asks the user's MSAL cache, which has
    # the sign-in's access token.
    assert acquisitions(metrics, "cache") == cached + len(faults.find("GET")) - reads
    assert acquisitions(metrics, "authority") == fetched and token_posts(faults) == tokens
    assert len(faults.find("GET")) - reads >= 2

    faults.fail(401, times=1, path=ACTIVE)  # Graph refuses the token once: a forced refresh
    async with signin.acting("U_ALINE") as graph:
        await graph.list_active(ALINE.id)

    # The refresh token, redeemed at the sandbox's token endpoint.
    assert acquisitions(metrics, "authority") == fetched + 1
    assert token_posts(faults) == tokens + 1
