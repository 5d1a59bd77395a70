"""`list_active_all`, the board's one tenant-wide read (issue 16), through the production
Graph path against the sandbox over HTTPS: paged, not one call per user, and refused to
a signed-in user without a reader role as Graph refuses it.

Graph: "Get the instances of active role assignments in your tenant" with `$filter` on
roleDefinitionId (https://learn.microsoft.com/en-us/graph/api/rbacapplication-list-roleassignmentscheduleinstances);
delegated callers need a supported Microsoft Entra role (the same page)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from bot.domain.models import ActivationSpec, Role
from bot.domain.targets import Scope, Target, TargetKind
from bot.errors import GraphError
from bot.graph import RetryPolicy, build_graph
from bot.graph.auth import AccessToken
from bot.graph.pim import GraphPim
from bot.graph.tls import trust
from bot.simulators.sandbox import SandboxServer, SandboxTenant, create_app
from tests.support.cast import ADMIN, ALINE, DIEGO, GLOBAL_ADMIN, USER_ADMIN
from tests.support.clock import FakeClock
from tests.support.settings import make_settings

pytestmark = pytest.mark.slow  # a TLS sandbox per test

INSTANCES = "/v1.0/roleManagement/directory/roleAssignmentScheduleInstances"
TENANT_WIDE = Target(TargetKind.DIRECTORY_ROLE, Role(USER_ADMIN, "User Administrator"), Scope("/"))


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    # A minute ahead of the bot's clock: a start the client takes from its own (real)
    # clock is never in the tenant's future, which would make it Granted, not yet live.
    ahead = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
    tenant = SandboxTenant.from_seed(FakeClock(ahead))
    with SandboxServer(create_app(tenant, page_size=2), tls=True) as running:
        yield running


@pytest.fixture
async def pim(server: SandboxServer, tmp_path: Path) -> AsyncIterator[GraphPim]:
    graph = build_graph(
        make_settings(sandbox=server, policy=tmp_path / "pimbot.yml"), retry=RetryPolicy.fast()
    )
    yield graph
    await graph.aclose()


async def test_one_paged_read_lists_everyone_holding_the_roles(
    pim: GraphPim, server: SandboxServer
) -> None:
    for person in (ALINE, DIEGO):
        user = await pim.get_user(person.upn or "")
        await pim.activate(ActivationSpec(user.id, TENANT_WIDE, timedelta(hours=1), "board"))
    server.faults.clear_log()

    held = await pim.list_active_all([USER_ADMIN, GLOBAL_ADMIN])

    assert {(a.role_id, a.principal_id) for a in held} >= {
        (USER_ADMIN, ALINE.id),
        (USER_ADMIN, DIEGO.id),
        (GLOBAL_ADMIN, ADMIN.id),  # the admin, permanently
    }
    assert {a.role_id for a in held} <= {USER_ADMIN, GLOBAL_ADMIN}
    reads = server.faults.find("GET", INSTANCES)
    assert len(reads) >= 2  # followed @odata.nextLink: pages, not calls per user
    assert all("principalId" not in parse_qs(r.query).get("$filter", [""])[0] for r in reads)


async def test_one_role_is_filtered_by_graph(pim: GraphPim, server: SandboxServer) -> None:
    held = await pim.list_active_all([GLOBAL_ADMIN])

    assert [a.role_id for a in held] == [GLOBAL_ADMIN]
    (read, *_) = server.faults.find("GET", INSTANCES)
    assert parse_qs(read.query)["$filter"] == [f"roleDefinitionId eq '{GLOBAL_ADMIN}'"]


async def test_a_signed_in_user_without_a_reader_role_is_refused(
    server: SandboxServer, tmp_path: Path
) -> None:
    config = tmp_path / "pimbot.yml"
    config.write_text("graph:\n  identity: user\n")
    async with httpx.AsyncClient(verify=trust(server.ca_file)) as http:
        answer = await http.post(f"{server.url}/sandbox/tokens", json={"user": ALINE.upn})
    token = answer.raise_for_status().json()["access_token"]

    def delegated(*, force_refresh: bool) -> AccessToken:
        return AccessToken(token, 3600)

    settings = make_settings(sandbox=server, policy=config)
    graph = build_graph(settings, identity="user", credential=delegated, retry=RetryPolicy.fast())
    try:
        with pytest.raises(GraphError) as refused:
            await graph.list_active_all([USER_ADMIN])
        assert refused.value.status == 403
    finally:
        await graph.aclose()
