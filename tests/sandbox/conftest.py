"""Fixtures: the seeded sandbox tenant on a FakeClock, its ASGI app, and a Graph caller
(tests/support/graph_caller.py) that checks every body against Graph's schemas."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from bot.simulators.sandbox import Faults, SandboxTenant, create_app
from tests.support.clock import FakeClock
from tests.support.graph_caller import BASE, CLIENT_FORM, PAGE_SIZE, TOKEN_PATH, GraphCaller


@pytest.fixture
def tenant(clock: FakeClock) -> SandboxTenant:
    tenant = SandboxTenant.from_seed(clock)
    # Tests move the clock by days; token expiry has its own tests (test_login.py).
    tenant.tokens.lifetime = timedelta(days=1000)
    return tenant


@pytest.fixture
def app(tenant: SandboxTenant, faults: Faults) -> Any:
    return create_app(tenant, faults=faults, page_size=PAGE_SIZE)


@pytest.fixture
async def http(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=BASE) as client:
        yield client


@pytest.fixture
async def app_token(http: httpx.AsyncClient) -> str:
    response = await http.post(TOKEN_PATH, data=CLIENT_FORM)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


class SandboxCaller(GraphCaller):
    """The app's GraphCaller, except that a self action sent without a token goes out as
    the user it names (signed in with a password only): only a signed-in user can make a
    self action. Pass `token=` to choose who calls (e.g. the app, to see it refused)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        schema: dict[str, Any],
        token: str,
        tenant: SandboxTenant,
    ) -> None:
        super().__init__(http, schema, token)
        self._tenant = tenant

    async def post_request(self, body: dict[str, Any], token: str | None = None) -> httpx.Response:
        principal = body.get("principalId")
        if token is None and str(body.get("action", "")).lower().startswith("self") and principal:
            token, _ = self._tenant.tokens.issue("user", str(principal), self._tenant.client_id)
        return await super().post_request(body, token)


@pytest.fixture
def graph(
    http: httpx.AsyncClient, graph_schema: dict[str, Any], app_token: str, tenant: SandboxTenant
) -> GraphCaller:
    return SandboxCaller(http, graph_schema, app_token, tenant)


@pytest.fixture
def user_token(tenant: SandboxTenant) -> Callable[[str], str]:
    """Mint a delegated token for a user (what device-code sign-in will give)."""

    def mint(user_id: str) -> str:
        token, _ = tenant.tokens.issue("user", user_id, tenant.client_id)
        return token

    return mint
