"""Services wired as in production, against the sandbox tenant over real HTTPS and a real
SQLite store; only the Slack side is an in-memory fake. Bot and tenant share one clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.graph import RetryPolicy, build_graph
from bot.settings import PolicyFile, Settings
from bot.simulators.sandbox import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_TENANT_ID,
    Faults,
    SandboxServer,
    SandboxTenant,
    create_app,
)
from bot.store import SqlStore
from bot.wiring import ManualTrigger, Services, build_services
from tests.support.clock import FakeClock
from tests.support.slack_ports import FakeDirectory, RecordingNotifier

ROOT = Path(__file__).resolve().parents[2]
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
SECURITY_ADMIN = "194ae4cb-b126-40b2-bd5b-6091b380977d"
TICKET = "CONTOSO:Security-012345"
WHY = "invalidate refresh tokens for Sara"
REQUESTS = "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


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
    return Settings(
        azure_tenant_id=SANDBOX_TENANT_ID,
        azure_client_id=SANDBOX_CLIENT_ID,
        azure_client_secret=SANDBOX_CLIENT_SECRET,
        azure_authority_host=sandbox.url,
        pim_graph_url=sandbox.url,
        pim_ca_file=sandbox.ca_file,
        pim_config=ROOT / "pimbot.yml",
        pim_database_url=f"sqlite:///{tmp_path / 'pimbot.db'}",
        _env_file=None,
    )


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def directory() -> FakeDirectory:
    return FakeDirectory()


def wire(
    settings: Settings,
    clock: FakeClock,
    directory: FakeDirectory,
    notifier: RecordingNotifier,
    *,
    config: PolicyFile | None = None,
) -> Services:
    return build_services(
        settings,
        config=config,
        directory=directory,
        notifier=notifier,
        clock=clock,
        graph=build_graph(settings, retry=RetryPolicy.fast()),
        store=SqlStore.from_url(settings.pim_database_url, clock=clock),
        scheduler=ManualTrigger(),
    )


@pytest.fixture
async def services(
    settings: Settings, clock: FakeClock, directory: FakeDirectory, notifier: RecordingNotifier
) -> AsyncIterator[Services]:
    built = wire(settings, clock, directory, notifier)
    yield built
    await built.aclose()
