"""The production Graph path (build_graph: MSAL + httpx + retries) against the sandbox
tenant over real HTTPS: the Contoso tutorial journey, then injected faults."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from bot.domain.models import ActivationSpec, Role, Ticket
from bot.domain.targets import Scope, Target, TargetKind
from bot.errors import GraphError, GraphThrottled
from bot.graph import RetryPolicy, build_graph
from bot.graph.auth import AccessToken
from bot.graph.pim import GraphPim
from bot.graph.tls import trust
from bot.settings import Settings
from bot.simulators.sandbox import (
    SANDBOX_TENANT_ID,
    SandboxServer,
    SandboxTenant,
    create_app,
)
from tests.support.cast import ALINE, HELPDESK_GROUP, MEGAN, SECOPS_GROUP, USER_ADMIN
from tests.support.clock import FakeClock
from tests.support.graph_fakes import assert_request_valid
from tests.support.settings import make_settings

USER_ADMIN_TENANT = Target(
    TargetKind.DIRECTORY_ROLE, Role(USER_ADMIN, "User Administrator"), Scope("/")
)

pytestmark = pytest.mark.slow  # its tests take over ~0.5 s each (see pyproject.toml)

REQUESTS = "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests"
ELIGIBLE = "/v1.0/roleManagement/directory/roleEligibilityScheduleInstances"
TICKET = Ticket("CONTOSO:Security-012345", "CONTOSO")
JUSTIFICATION = "Need to invalidate all app refresh tokens for Sara using PowerShell."


@pytest.fixture
def sandbox_clock() -> FakeClock:
    # Ahead of the bot's real clock, as a Graph clock may be: Graph moves the start up.
    return FakeClock(datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1))


@pytest.fixture
def server(sandbox_clock: FakeClock, graph_schema: dict[str, Any]) -> Iterator[SandboxServer]:
    tenant = SandboxTenant.from_seed(sandbox_clock)
    with SandboxServer(create_app(tenant), tls=True) as running:
        yield running
        sent_bodies(running, graph_schema)  # every schedule request sent, in every test


def sandbox_settings(server: SandboxServer, config: Path) -> Settings:
    return make_settings(sandbox=server, policy=config)


@pytest.fixture
async def pim(server: SandboxServer, tmp_path: Path) -> AsyncIterator[GraphPim]:
    absent = tmp_path / "pimbot.yml"  # all defaults: the application identity
    graph = build_graph(sandbox_settings(server, absent), retry=RetryPolicy.fast())
    yield graph
    await graph.aclose()


@pytest.fixture
async def aline_pim(server: SandboxServer, tmp_path: Path) -> AsyncIterator[GraphPim]:
    """GraphPim with `graph.identity: user` and Aline's delegated token from the sandbox."""
    config = tmp_path / "pimbot.yml"
    config.write_text("graph:\n  identity: user\n")
    async with httpx.AsyncClient(verify=trust(server.ca_file)) as http:
        answer = await http.post(f"{server.url}/sandbox/tokens", json={"user": ALINE.upn})
    token = answer.raise_for_status().json()["access_token"]

    def delegated(*, force_refresh: bool) -> AccessToken:
        return AccessToken(token, 3600)

    settings = sandbox_settings(server, config)
    graph = build_graph(settings, identity="user", credential=delegated, retry=RetryPolicy.fast())
    yield graph
    await graph.aclose()


async def activate_aline(pim: GraphPim) -> Any:
    aline = await pim.get_user(ALINE.upn)
    spec = ActivationSpec(aline.id, USER_ADMIN_TENANT, timedelta(hours=5), JUSTIFICATION, TICKET)
    return aline, await pim.activate(spec)


def sent_bodies(server: SandboxServer, schema: dict[str, Any]) -> list[dict[str, Any]]:
    """Every POST body the sandbox received, each valid against Graph's schema."""
    bodies = [c.request_body for c in server.faults.find("POST", REQUESTS)]
    for body in bodies:
        assert_request_valid(schema, body)
    return bodies


class TestTutorialJourney:
    async def test_aline_activates_and_deactivates_user_administrator(
        self,
        pim: GraphPim,
        server: SandboxServer,
        sandbox_clock: FakeClock,
        graph_schema: dict[str, Any],
    ) -> None:
        await pim.check_token()
        aline = await pim.get_user(ALINE.upn)
        assert aline.display_name == "Aline Dupuy"
        assert await pim.find_user_by_email(ALINE.upn.lower()) == aline

        eligible = [e for e in await pim.list_eligibilities(aline.id) if e.role_id == USER_ADMIN]
        assert [e.via_group_name for e in eligible] == ["IT Helpdesk (User)"]
        assert await pim.list_active(aline.id) == []

        spec = ActivationSpec(
            aline.id, USER_ADMIN_TENANT, timedelta(hours=5), JUSTIFICATION, TICKET
        )
        request = await pim.activate(spec)
        assert request.status == "Provisioned"
        [active] = await pim.list_active(aline.id)
        # adminAssign (the application identity) yields an admin assignment, not an
        # "Activated" one as selfActivate does; either way it is time-bound.
        assert (active.role_id, active.assignment_type) == (USER_ADMIN, "Assigned")
        assert active.end == sandbox_clock.now() + timedelta(hours=5)

        sandbox_clock.advance(timedelta(minutes=5))  # Entra: no deactivation sooner
        removal = await pim.deactivate(aline.id, USER_ADMIN_TENANT, "Done with the tokens.")
        assert removal.action == "adminRemove"
        assert await pim.list_active(aline.id) == []
        actions = [b["action"] for b in sent_bodies(server, graph_schema)]
        assert actions == ["adminAssign", "adminRemove"]

    async def test_policy_and_role_definitions_are_read(self, pim: GraphPim) -> None:
        policy = await pim.get_policy(USER_ADMIN)
        assert policy.max_duration >= timedelta(hours=5)
        roles = {r.id: r.display_name for r in await pim.list_role_definitions()}
        assert roles[USER_ADMIN] == "User Administrator"

    async def test_an_expired_token_is_refreshed_once(
        self, pim: GraphPim, server: SandboxServer, sandbox_clock: FakeClock
    ) -> None:
        token_path = f"/{SANDBOX_TENANT_ID}/oauth2/v2.0/token"
        aline = await pim.get_user(ALINE.upn)
        assert server.faults.count("POST", token_path) == 1
        sandbox_clock.advance(timedelta(hours=2))  # past the sandbox token's lifetime
        assert await pim.list_active(aline.id) == []
        # list_active makes two calls at once; both meet a 401, one new token serves both.
        assert [c.status for c in server.faults.find("GET")].count(401) == 2
        assert server.faults.count("POST", token_path) == 2


class TestUserIdentity:
    async def test_aline_self_activates_and_self_deactivates(
        self,
        aline_pim: GraphPim,
        server: SandboxServer,
        sandbox_clock: FakeClock,
        graph_schema: dict[str, Any],
    ) -> None:
        assert aline_pim.identity == "user"
        aline, request = await activate_aline(aline_pim)
        assert (request.action, request.status) == ("selfActivate", "Provisioned")
        [active] = await aline_pim.list_active(aline.id)
        assert active.assignment_type == "Activated"
        sandbox_clock.advance(timedelta(minutes=5))  # Entra: no deactivation sooner
        await aline_pim.deactivate(aline.id, USER_ADMIN_TENANT, "Done.")
        assert await aline_pim.list_active(aline.id) == []
        actions = [b["action"] for b in sent_bodies(server, graph_schema)]
        assert actions == ["selfActivate", "selfDeactivate"]


class TestFaults:
    async def test_a_429_storm_with_retry_after_is_ridden_out(
        self, pim: GraphPim, server: SandboxServer
    ) -> None:
        aline = await pim.get_user(ALINE.upn)
        server.faults.throttle(times=3, retry_after=0.05, path=ELIGIBLE)
        assert [e.role_id for e in await pim.list_eligibilities(aline.id)]
        statuses = [c.status for c in server.faults.find("GET", ELIGIBLE)]
        assert statuses.count(429) == 3 and 200 in statuses

    async def test_a_503_burst_is_ridden_out(self, pim: GraphPim, server: SandboxServer) -> None:
        aline = await pim.get_user(ALINE.upn)
        server.faults.fail(503, times=3, path=ELIGIBLE)
        assert await pim.list_eligibilities(aline.id)

    async def test_a_dropped_connection_is_retried(
        self, pim: GraphPim, server: SandboxServer
    ) -> None:
        aline = await pim.get_user(ALINE.upn)
        server.faults.drop(times=1, method="GET", path=ELIGIBLE)
        assert await pim.list_eligibilities(aline.id)
        assert [c.status for c in server.faults.find("GET", ELIGIBLE)][0] == 0

    async def test_a_lost_activation_response_is_not_submitted_twice(
        self, pim: GraphPim, server: SandboxServer, graph_schema: dict[str, Any]
    ) -> None:
        server.faults.lose_response(times=1, method="POST", path=REQUESTS)
        aline, request = await activate_aline(pim)
        assert request.status == "Provisioned"
        assert len(sent_bodies(server, graph_schema)) == 1
        assert len(await pim.list_active(aline.id)) == 1

    async def test_a_dropped_activation_is_checked_then_resent(
        self, pim: GraphPim, server: SandboxServer, graph_schema: dict[str, Any]
    ) -> None:
        server.faults.drop(times=1, method="POST", path=REQUESTS)
        aline, request = await activate_aline(pim)
        assert request.status == "Provisioned"
        assert len(sent_bodies(server, graph_schema)) == 2  # the first was never processed
        assert len(await pim.list_active(aline.id)) == 1

    async def test_throttling_past_the_budget_tells_the_user_to_retry(
        self, pim: GraphPim, server: SandboxServer
    ) -> None:
        aline = await pim.get_user(ALINE.upn)
        server.faults.throttle(times=50, retry_after=0.01, path=ELIGIBLE)
        with pytest.raises(GraphThrottled) as caught:
            await pim.list_eligibilities(aline.id)
        assert "try again" in caught.value.user_message
        assert caught.value.request_id and caught.value.request_id in caught.value.user_message


# -- an eligibility over an administrative unit: activated, extended and ended there ---

UNIT = "0b7c3a52-7f1e-4c4b-9a57-5b8f0d2e6a11"
SEATTLE = f"/administrativeUnits/{UNIT}"
PASSWORD_ADMIN = "966707d0-3269-4727-9be2-8c3a10f19b9d"
UNITS = "/v1.0/directory/administrativeUnits"


def target_of(eligibility: Any, name: str) -> Target:
    """What the service builds from an eligibility: its role, at its own scope."""
    return Target(eligibility.kind, Role(eligibility.role_id, name), eligibility.scope)


class TestAdministrativeUnitScope:
    @pytest.fixture(autouse=True)
    def seattle(self, server: SandboxServer) -> None:
        """Aline is also eligible for User Administrator, and for Password Administrator
        only, over the Seattle Branch unit."""
        server.tenant.add_administrative_unit("Seattle Branch", UNIT)
        aline = server.tenant.directory.user(ALINE.upn)
        assert aline is not None
        server.tenant.add_eligibility(aline.id, USER_ADMIN, SEATTLE)
        server.tenant.add_eligibility(aline.id, PASSWORD_ADMIN, SEATTLE)

    async def test_eligibilities_carry_their_scope_named_from_the_unit(self, pim: GraphPim) -> None:
        aline = await pim.get_user(ALINE.upn)

        found = {(e.role_id, e.scope.id): e for e in await pim.list_eligibilities(aline.id)}

        assert found[(USER_ADMIN, "/")].via_group_name == "IT Helpdesk (User)"
        assert found[(USER_ADMIN, "/")].scope.is_tenant_wide
        unit = found[(PASSWORD_ADMIN, SEATTLE)].scope
        assert (unit.display_name, unit.label) == (
            "Seattle Branch",
            "administrative unit Seattle Branch",
        )
        assert (PASSWORD_ADMIN, "/") not in found

    async def test_application_identity_assigns_extends_and_removes_at_the_unit(
        self,
        pim: GraphPim,
        server: SandboxServer,
        sandbox_clock: FakeClock,
        graph_schema: dict[str, Any],
    ) -> None:
        aline = await pim.get_user(ALINE.upn)
        [eligible] = [
            e for e in await pim.list_eligibilities(aline.id) if e.role_id == PASSWORD_ADMIN
        ]
        target = target_of(eligible, "Password Administrator")

        await pim.activate(ActivationSpec(aline.id, target, timedelta(hours=2), JUSTIFICATION))
        [active] = await pim.list_active(aline.id)
        live = server.tenant.live_assignment(aline.id, PASSWORD_ADMIN)
        assert live is not None and live.scope == SEATTLE  # in Graph's state: never "/"
        assert (active.scope, active.scope.display_name) == (target.scope, "Seattle Branch")

        assert live.end == sandbox_clock.now() + timedelta(hours=2)
        sandbox_clock.advance(timedelta(minutes=5))  # Entra: no deactivation sooner
        await pim.deactivate(aline.id, target, "Done.")

        assert server.tenant.live_assignment(aline.id, PASSWORD_ADMIN) is None
        bodies = sent_bodies(server, graph_schema)
        assert [(b["action"], b["directoryScopeId"]) for b in bodies] == [
            ("adminAssign", SEATTLE),
            ("adminRemove", SEATTLE),
        ]

    async def test_user_identity_self_activates_and_deactivates_at_the_unit(
        self,
        aline_pim: GraphPim,
        server: SandboxServer,
        sandbox_clock: FakeClock,
        graph_schema: dict[str, Any],
    ) -> None:
        aline = await aline_pim.get_user(ALINE.upn)
        mine = await aline_pim.list_eligibilities(aline.id)
        [eligible] = [e for e in mine if e.role_id == PASSWORD_ADMIN]
        target = target_of(eligible, "Password Administrator")

        await aline_pim.activate(
            ActivationSpec(aline.id, target, timedelta(hours=1), JUSTIFICATION)
        )
        [active] = await aline_pim.list_active(aline.id)
        sandbox_clock.advance(timedelta(minutes=5))  # Entra: no deactivation sooner
        await aline_pim.deactivate(aline.id, target, "Done.")

        assert active.scope.id == SEATTLE and active.assignment_type == "Activated"
        assert await aline_pim.list_active(aline.id) == []
        bodies = sent_bodies(server, graph_schema)
        assert [(b["action"], b["directoryScopeId"]) for b in bodies] == [
            ("selfActivate", SEATTLE),
            ("selfDeactivate", SEATTLE),
        ]

    async def test_ending_the_role_at_the_unit_leaves_it_tenant_wide(
        self,
        pim: GraphPim,
        server: SandboxServer,
        sandbox_clock: FakeClock,
        graph_schema: dict[str, Any],
    ) -> None:
        aline = await pim.get_user(ALINE.upn)
        both = [e for e in await pim.list_eligibilities(aline.id) if e.role_id == USER_ADMIN]
        tenant_wide, unit = sorted(
            (target_of(e, "User Administrator") for e in both), key=lambda t: t.scope.id != "/"
        )
        for target, hours in ((tenant_wide, 1), (unit, 2)):
            spec = ActivationSpec(aline.id, target, timedelta(hours=hours), JUSTIFICATION)
            await pim.activate(spec)

        sandbox_clock.advance(timedelta(minutes=5))  # Entra: no deactivation sooner
        await pim.deactivate(aline.id, unit, "Done over Seattle.")

        [left] = await pim.list_active(aline.id)
        assert left.scope.is_tenant_wide and left.end is not None and left.start is not None
        assert left.end - left.start == timedelta(hours=1)
        scopes = [b["directoryScopeId"] for b in sent_bodies(server, graph_schema)]
        assert scopes == ["/", SEATTLE, SEATTLE]

    async def test_a_unit_whose_name_cannot_be_read_is_shown_by_its_id(
        self, pim: GraphPim, server: SandboxServer
    ) -> None:
        server.faults.fail(403, times=5, path=f"{UNITS}/{UNIT}")
        aline = await pim.get_user(ALINE.upn)

        scopes = {
            e.scope for e in await pim.list_eligibilities(aline.id) if e.role_id == PASSWORD_ADMIN
        }
        again = await pim.list_eligibilities(aline.id)

        [scope] = scopes
        assert scope.display_name is None and scope.label == f"administrative unit {UNIT}"
        assert len(again) == len(await pim.list_eligibilities(aline.id))
        assert server.faults.count("GET", f"{UNITS}/{UNIT}") == 1  # a 403 is not asked again


async def test_group_eligibility_is_read_for_role_assignable_groups_only(
    pim: GraphPim, server: SandboxServer
) -> None:
    """One filtered membership read per user and one read of the tenant's eligibilities
    (issue 17): no call per group of any kind, and the eligibility of a group that cannot
    hold roles is not the user's (PIM Approvers, which Megan is in, is not
    role-assignable)."""
    server.faults.clear_log()
    aline = await pim.list_eligibilities(ALINE.id)
    megan = await pim.list_eligibilities(MEGAN.id)

    member_reads = [c.path for c in server.faults.find("GET", "/v1.0/users/")]
    eligible_reads = server.faults.find("GET", ELIGIBLE)
    assert member_reads == [
        f"/v1.0/users/{ALINE.id}/memberOf/microsoft.graph.group",
        f"/v1.0/users/{MEGAN.id}/memberOf/microsoft.graph.group",
    ]
    assert len(eligible_reads) == 1  # the tenant read, kept, serves both users
    assert all("$filter" not in parse_qs(c.query) for c in eligible_reads)
    assert {e.via_group_id for e in aline} == {None, HELPDESK_GROUP, SECOPS_GROUP}
    assert {e.principal_id for e in megan} <= {MEGAN.id}


async def test_a_403_in_user_mode_names_the_users_missing_role_not_a_bot_permission(
    aline_pim: GraphPim,
) -> None:
    """With Aline's delegated token Graph checks her Entra roles too: reading a PIM policy
    needs a reader role she lacks. The message must say so, not blame the bot's consent."""
    with pytest.raises(GraphError) as refused:
        await aline_pim.get_policy(USER_ADMIN)

    assert refused.value.status == 403
    message = refused.value.user_message
    assert "your Entra roles" in message and "Global Reader" in message
    assert "permission" not in message and "admin consent" not in message
