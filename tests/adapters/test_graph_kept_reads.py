"""Issue 17: the eligibility and group reads GraphPim keeps, for how long, and what makes
it read Graph again (README "Eligibility cache")."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bot.domain.models import ActivationSpec, Role
from bot.domain.targets import Scope, Target, TargetKind
from bot.errors import GraphError
from bot.graph.pim import GraphPim, Identity
from tests.support.cast import USER_ADMIN
from tests.support.clock import FakeClock
from tests.support.graph_fakes import Recorder, make_client

RM = "/v1.0/roleManagement/directory"
ELIGIBLE = f"{RM}/roleEligibilityScheduleInstances"
MINE = f"{ELIGIBLE}/filterByCurrentUser(on='principal')"
GROUPS = "/v1.0/users/aline-id/memberOf/microsoft.graph.group"
NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
KEPT = timedelta(seconds=30)
TARGET = Target(TargetKind.DIRECTORY_ROLE, Role(USER_ADMIN, "User Administrator"), Scope("/"))


class Tenant:
    """Answers the eligibility and group reads from mutable lists; refuses every POST."""

    def __init__(self) -> None:
        self.eligible: list[dict[str, Any]] = [_instance("aline-id", None)]
        self.groups: list[dict[str, Any]] = []
        self.fail_next = False  # the next eligibility read answers 404
        self.units: list[dict[str, Any]] | None = None  # None: the unit list answers 404

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "POST":
            error = {
                "code": "RoleAssignmentExists",
                "message": "The Role assignment already exists.",
            }
            return httpx.Response(400, json={"error": error})
        if path in (ELIGIBLE, MINE) and self.fail_next:
            self.fail_next = False
            return httpx.Response(404, json={"error": {"code": "NotFound", "message": path}})
        if path in (ELIGIBLE, MINE):
            return httpx.Response(200, json={"value": self.eligible})
        if path == GROUPS:
            return httpx.Response(200, json={"value": self.groups})
        if path == "/v1.0/directory/administrativeUnits" and self.units is not None:
            return httpx.Response(200, json={"value": self.units})
        if path == f"{RM}/roleAssignmentScheduleInstances":
            return httpx.Response(200, json={"value": []})
        return httpx.Response(404, json={"error": {"code": "NotFound", "message": path}})


def _instance(principal: str, end: str | None) -> dict[str, Any]:
    return {
        "id": f"inst-{principal}-{end}",
        "principalId": principal,
        "roleDefinitionId": USER_ADMIN,
        "directoryScopeId": "/",
        "startDateTime": "2026-01-01T00:00:00Z",
        "endDateTime": end,
    }


def make(identity: Identity = "application") -> tuple[GraphPim, Recorder, Tenant, FakeClock]:
    tenant, clock = Tenant(), FakeClock(NOW)
    rec = Recorder(tenant)
    pim = GraphPim(make_client(rec), identity=identity, clock=clock, kept_for=KEPT)
    return pim, rec, tenant, clock


def reads(rec: Recorder) -> int:
    return len([r for r in rec.requests if r.method == "GET"])


async def test_a_second_look_within_the_lifetime_reads_nothing() -> None:
    pim, rec, _, _ = make()
    assert len(await pim.list_eligibilities("aline-id")) == 1
    first = reads(rec)
    assert first == 2  # the tenant's eligibilities, the user's groups
    assert len(await pim.list_eligibilities("aline-id")) == 1
    assert reads(rec) == first


async def test_a_removed_eligibility_is_gone_once_the_lifetime_has_passed() -> None:
    pim, rec, tenant, clock = make()
    await pim.list_eligibilities("aline-id")
    tenant.eligible = []
    clock.advance(KEPT - timedelta(seconds=1))
    assert len(await pim.list_eligibilities("aline-id")) == 1  # the bound trade-off
    clock.advance(timedelta(seconds=1))
    assert await pim.list_eligibilities("aline-id") == []


async def test_a_kept_eligibility_is_never_honoured_past_its_own_end() -> None:
    pim, _, tenant, clock = make()
    tenant.eligible = [_instance("aline-id", "2026-11-29T09:00:10Z")]
    assert len(await pim.list_eligibilities("aline-id")) == 1
    clock.advance(timedelta(seconds=10))  # still within the lifetime
    assert await pim.list_eligibilities("aline-id") == []


async def test_a_refused_activation_forgets_what_was_kept_for_the_user() -> None:
    pim, rec, tenant, _ = make()
    await pim.list_eligibilities("aline-id")
    tenant.eligible = []
    spec = ActivationSpec("aline-id", TARGET, timedelta(hours=1), "why", None, start=NOW)
    try:
        await pim.activate(spec)
    except GraphError as exc:
        assert exc.code == "RoleAssignmentExists"
    else:
        raise AssertionError("the POST was refused")
    before = reads(rec)
    assert await pim.list_eligibilities("aline-id") == []
    assert reads(rec) == before + 2


async def test_user_mode_keeps_the_users_own_list_for_the_lifetime() -> None:
    pim, rec, _, clock = make("user")
    await pim.list_eligibilities("aline-id")
    first = reads(rec)
    await pim.list_eligibilities("aline-id")
    assert reads(rec) == first
    clock.advance(KEPT)
    await pim.list_eligibilities("aline-id")
    assert reads(rec) == 2 * first


async def test_a_zero_lifetime_keeps_nothing() -> None:
    tenant, clock = Tenant(), FakeClock(NOW)
    rec = Recorder(tenant)
    pim = GraphPim(make_client(rec), clock=clock, kept_for=timedelta(0))
    await pim.list_eligibilities("aline-id")
    await pim.list_eligibilities("aline-id")
    assert reads(rec) == 4


async def test_a_fresh_look_reads_graph_whatever_is_kept() -> None:
    pim, rec, tenant, _ = make()
    await pim.list_eligibilities("aline-id")
    tenant.eligible = [*tenant.eligible, _instance("aline-id", "2026-12-01T00:00:00Z")]
    before = reads(rec)
    assert len(await pim.list_eligibilities("aline-id", fresh=True)) == 2
    assert reads(rec) == before + 2


async def test_callers_asking_at_once_share_one_read() -> None:
    pim, rec, _, _ = make()
    lists = await asyncio.gather(*(pim.list_eligibilities("aline-id") for _ in range(5)))
    assert all(len(found) == 1 for found in lists)
    assert reads(rec) == 2  # not 10: a stampede at expiry costs one tenant read


async def test_a_failed_read_is_not_kept() -> None:
    pim, rec, tenant, _ = make()
    tenant.fail_next = True
    try:
        await pim.list_eligibilities("aline-id")
    except GraphError:
        pass
    else:
        raise AssertionError("the first read failed")
    assert len(await pim.list_eligibilities("aline-id")) == 1


async def test_the_users_own_active_roles_are_one_read_with_no_group_reads() -> None:
    pim, rec, tenant, _ = make()
    tenant.groups = [{"id": "helpdesk-id", "displayName": "IT Helpdesk"}]
    await pim.list_active("aline-id", via_groups=False)
    paths = [r.url.path for r in rec.requests]
    assert paths == [f"{RM}/roleAssignmentScheduleInstances"]
    assert rec.requests[0].url.params["$filter"] == "principalId eq 'aline-id'"


UNIT = "0b7c3a52-7f1e-4c4b-9a57-5b8f0d2e6a11"
UNITS = "/v1.0/directory/administrativeUnits"


async def test_unit_names_listed_at_start_spare_each_activation_a_read() -> None:
    pim, rec, tenant, _ = make()
    tenant.eligible = [
        {**_instance("aline-id", None), "directoryScopeId": f"/administrativeUnits/{UNIT}"}
    ]
    tenant.units = [{"id": UNIT, "displayName": "Seattle Branch"}]
    await pim.prime()
    [found] = await pim.list_eligibilities("aline-id")
    assert found.scope.display_name == "Seattle Branch"
    assert [r.url.path for r in rec.requests if r.url.path.startswith(UNITS)] == [UNITS]


async def test_unit_names_refused_at_start_are_read_when_shown() -> None:
    pim, rec, tenant, _ = make()
    tenant.eligible = [
        {**_instance("aline-id", None), "directoryScopeId": f"/administrativeUnits/{UNIT}"}
    ]
    await pim.prime()  # no list: answered 404 here, and start-up goes on
    [found] = await pim.list_eligibilities("aline-id")
    assert found.scope.display_name is None  # shown by its id
    assert [r.url.path for r in rec.requests if r.url.path.startswith(UNITS)] == [
        UNITS,
        f"{UNITS}/{UNIT}",
    ]
