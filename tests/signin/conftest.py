"""Fixtures: the sandbox tenant over real HTTPS, settings in user mode, the store, an
identity resolver (app identity for directory look-ups), and the sign-in services."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from bot.graph import GraphPim, build_graph
from bot.graph.retry import RetryPolicy
from bot.graph.tls import trust
from bot.service.identity import IdentityResolver
from bot.service.ports import SlackProfile
from bot.settings import Settings
from bot.signin.models import LoginOutcome
from bot.signin.wiring import SignIn, build_signin
from bot.simulators.sandbox import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_TENANT_ID,
    SandboxServer,
    SandboxTenant,
    create_app,
)
from bot.store import SqlStore
from tests.support.clock import FakeClock

TENANT = "m365x435773.onmicrosoft.com"
ALINE, ALINE_UPN = "7146daa8-1b4b-4a66-b2f7-cf593d03c8d2", f"AlineD@{TENANT}"
ADMIN, ADMIN_UPN = "3fbd929d-8c56-4462-851e-0eb9a7b3a2a5", f"admin@{TENANT}"
MEGAN_UPN = f"MeganB@{TENANT}"
ALEX_UPN = f"AlexW@{TENANT}"
DIEGO, DIEGO_UPN = "5d8a3f2e-6c1b-4e7a-9b0d-2f4c6e8a1b03", f"DiegoS@{TENANT}"
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
PRIV_ROLE_ADMIN = "e8611ab8-c189-46e8-94e1-60213ab1f814"

PROFILES = {
    "U_ALINE": ALINE_UPN,
    "U_ADMIN": ADMIN_UPN,
    "U_MEGAN": MEGAN_UPN,
    "U_ALEX": ALEX_UPN,
    "U_DIEGO": DIEGO_UPN,
}


class Directory:
    """Slack profiles with verified emails (the Entra mapping goes by email)."""

    async def profile(self, slack_user_id: str) -> SlackProfile:
        return SlackProfile(slack_user_id, PROFILES.get(slack_user_id), "UTC")

    async def usergroup_members(self, usergroup_id: str) -> frozenset[str]:
        return frozenset()


class Outcomes:
    """A LoginListener that records what the Slack layer would DM."""

    def __init__(self) -> None:
        self.seen: list[LoginOutcome] = []

    async def login_finished(self, outcome: LoginOutcome) -> None:
        self.seen.append(outcome)


@pytest.fixture
def sandbox_clock() -> FakeClock:
    # Ahead of the bot's real clock, as a Graph clock may be: Graph moves the start up.
    return FakeClock(datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1))


@pytest.fixture
def server(sandbox_clock: FakeClock) -> Iterator[SandboxServer]:
    with SandboxServer(create_app(SandboxTenant.from_seed(sandbox_clock))) as running:
        yield running


@pytest.fixture
def settings(server: SandboxServer, tmp_path: Path) -> Settings:
    config = tmp_path / "pimbot.yml"
    config.write_text("graph:\n  identity: user\n")
    return Settings(
        azure_tenant_id=SANDBOX_TENANT_ID,
        azure_client_id=SANDBOX_CLIENT_ID,
        azure_authority_host=server.url,
        pim_graph_url=server.url,
        pim_ca_file=server.ca_file,
        pim_config=config,
        pim_database_url=f"sqlite:///{tmp_path / 'pimbot.db'}",
        pim_token_key=Fernet.generate_key().decode(),
        _env_file=None,
    )


@pytest.fixture
def store(settings: Settings, clock: FakeClock) -> Iterator[SqlStore]:
    opened = SqlStore.from_url(settings.pim_database_url, clock=clock)
    yield opened
    opened.close()


@pytest.fixture
async def app_graph(server: SandboxServer, tmp_path: Path) -> AsyncIterator[GraphPim]:
    """The application identity, used only to look users up for the identity mapping."""
    settings = Settings(
        azure_tenant_id=SANDBOX_TENANT_ID,
        azure_client_id=SANDBOX_CLIENT_ID,
        azure_client_secret=SANDBOX_CLIENT_SECRET,
        azure_authority_host=server.url,
        pim_graph_url=server.url,
        pim_ca_file=server.ca_file,
        pim_config=tmp_path / "absent.yml",
        _env_file=None,
    )
    graph = build_graph(settings, retry=RetryPolicy.fast())
    yield graph
    await graph.aclose()


@pytest.fixture
async def signin(
    settings: Settings, store: SqlStore, app_graph: GraphPim, clock: FakeClock, outcomes: Outcomes
) -> AsyncIterator[SignIn]:
    resolver = IdentityResolver(app_graph, store, Directory(), settings.policy(), clock)
    built = build_signin(
        settings,
        engine=store.engine,
        resolver=resolver,
        audit=store,
        clock=clock,
        listener=outcomes,
    )
    yield built
    await built.aclose()


@pytest.fixture
def outcomes() -> Outcomes:
    return Outcomes()


class Browser:
    """The user at the verification page: enters the code and signs in (over HTTPS)."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server

    async def sign_in(self, user_code: str, upn: str) -> None:
        async with httpx.AsyncClient(verify=trust(self.server.ca_file)) as http:
            response = await http.post(
                f"{self.server.url}/sandbox/device", json={"userCode": user_code, "user": upn}
            )
        assert response.status_code == 200, response.text


@pytest.fixture
def browser(server: SandboxServer) -> Browser:
    return Browser(server)


async def log_in(signin: SignIn, browser: Browser, slack_user_id: str, upn: str) -> LoginOutcome:
    """The whole `/pim login` round trip for one user; returns the outcome."""
    prompt = await signin.login.start_login(slack_user_id)
    await browser.sign_in(prompt.user_code, upn)
    outcome = await signin.login.wait(slack_user_id)
    assert outcome is not None
    return outcome


def later(clock: FakeClock, **delta: float) -> None:
    clock.advance(timedelta(**delta))
