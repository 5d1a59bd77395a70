"""Authorization like Graph's: the app registration's permissions are seed data, a call
outside them gets 403 Authorization_RequestDenied, and a signed-in user reads only their
own PIM records unless they hold a reader role (bot/simulators/sandbox/permissions.py
cites Graph's per-endpoint tables)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from bot.simulators.sandbox import SandboxTenant
from tests.sandbox.seeded import PARIS
from tests.support.cast import ADMIN, ALEX, ALINE, GLOBAL_ADMIN, HELPDESK_GROUP, USER_ADMIN
from tests.support.graph_caller import REQUESTS, RM, GraphCaller, assert_graph_error, request_body

README = Path(__file__).resolve().parents[2] / "README.md"
DENIED = "Authorization_RequestDenied"
ELIGIBLE = f"{RM}/roleEligibilityScheduleInstances"
MINE = "filterByCurrentUser(on='principal')"


def readme_permissions() -> set[str]:
    """The application permissions the README tells an admin to grant."""
    text = README.read_text(encoding="utf-8")
    section = text.split("### Application identity", 1)[1].split("\n### ", 1)[0]
    return set(re.findall(r"^\| `([\w.]+)`", section, flags=re.MULTILINE))


async def test_the_app_holds_exactly_what_the_readme_asks_for(http: httpx.AsyncClient) -> None:
    granted = (await http.get("/sandbox/permissions")).json()["value"]

    assert set(granted) == readme_permissions()
    assert "AdministrativeUnit.Read.All" in granted


# (permissions to revoke, call): Graph accepts any of several permissions per call, so a
# call is refused only when the app holds none of them (RoleManagement.Read.Directory also
# covers eligibility and policy reads; GroupMember.Read.All also covers memberships).
CASES = [
    (["RoleEligibilitySchedule.Read.Directory", "RoleManagement.Read.Directory"], "GET", ELIGIBLE),
    (["RoleAssignmentSchedule.ReadWrite.Directory"], "POST", REQUESTS),
    (
        ["RoleManagementPolicy.Read.Directory", "RoleManagement.Read.Directory"],
        "GET",
        "/v1.0/policies/roleManagementPolicyAssignments",
    ),
    (["RoleManagement.Read.Directory"], "GET", f"{RM}/roleDefinitions"),
    (["User.Read.All"], "GET", f"/v1.0/users/{ALINE.id}"),
    (
        ["User.Read.All", "GroupMember.Read.All"],
        "GET",
        f"/v1.0/users/{ALINE.id}/transitiveMemberOf",
    ),
    (["GroupMember.Read.All"], "GET", f"/v1.0/groups/{HELPDESK_GROUP}/members"),
    (["AdministrativeUnit.Read.All"], "GET", f"/v1.0/directory/administrativeUnits/{PARIS.id}"),
]


@pytest.mark.parametrize(("permissions", "method", "path"), CASES)
async def test_without_a_covering_permission_graph_answers_403(
    graph: GraphCaller,
    http: httpx.AsyncClient,
    tenant: SandboxTenant,
    permissions: list[str],
    method: str,
    path: str,
) -> None:
    body = request_body("adminAssign", ALEX.id, USER_ADMIN) if method == "POST" else None
    *others, last = permissions
    await http.post("/sandbox/permissions", json={"revoke": others})
    still = await graph.call(method, path) if others else None  # (others: reads only)
    revoked = await http.post("/sandbox/permissions", json={"revoke": [last]})
    refused = await graph.call(method, path, json=body)
    await http.post("/sandbox/permissions", json={"grant": [last]})
    allowed = await graph.call(method, path, json=body)

    assert still is None or still.status_code == 200  # one covering permission is enough
    assert not set(permissions) & set(revoked.json()["value"])
    error = assert_graph_error(refused, 403, DENIED)
    assert error["message"] == "Insufficient privileges to complete the operation."
    assert allowed.status_code in (200, 201), allowed.text
    if body:  # the refused request changed nothing; the allowed one assigned once
        assert len([a for a in tenant.live_assignments() if a.principal_id == ALEX.id]) == 1


async def test_a_call_no_granted_permission_covers_is_refused(graph: GraphCaller) -> None:
    # pimbot is not granted User.RevokeSessions.All (nor anything that covers it).
    response = await graph.call("POST", f"/v1.0/users/{ALINE.id}/revokeSignInSessions")

    assert_graph_error(response, 403, DENIED)


async def test_reset_restores_the_seeded_permissions(
    http: httpx.AsyncClient, graph: GraphCaller
) -> None:
    await http.post("/sandbox/permissions", json={"revoke": ["User.Read.All"]})
    await http.post("/sandbox/reset")

    assert (await graph.get(f"/v1.0/users/{ALINE.id}", "user")).status_code == 200


async def test_an_application_cannot_make_a_self_action(
    graph: GraphCaller, app_token: str, tenant: SandboxTenant
) -> None:
    """A self action is the signed-in user's own ("selfActivate: For users to activate
    their assignments", https://learn.microsoft.com/en-us/graph/api/rbacapplication-post-
    roleassignmentschedulerequests); an app-only token has no user (the exact answer is
    undocumented: the sandbox refuses)."""
    body = request_body("selfActivate", ALINE.id, USER_ADMIN, duration="PT1H")

    refused = await graph.post_request(body, token=app_token)

    assert "signed-in user" in assert_graph_error(refused, 400)["message"]
    assert tenant.live_assignment(ALINE.id, USER_ADMIN) is None


class TestSignedInReaders:
    """ "For read operations: Global Reader, Security Operator, Security Reader, Security
    Administrator, or Privileged Role Administrator" (Graph's PIM for Entra roles APIs,
    https://learn.microsoft.com/en-us/graph/api/rbacapplication-list-roleeligibilityscheduleinstances);
    filterByCurrentUser is how anyone reads their own."""

    async def test_a_user_without_a_reader_role_reads_only_their_own(
        self, graph: GraphCaller, user_token: Callable[[str], str]
    ) -> None:
        token = user_token(ALINE.id)
        own_filter = {"$filter": f"principalId eq '{ALINE.id}'"}

        listed = await graph.call("GET", ELIGIBLE, params=own_filter, token=token)
        mine = await graph.call("GET", f"{ELIGIBLE}/{MINE}", token=token)

        assert_graph_error(listed, 403, DENIED)
        assert mine.status_code == 200
        # Her own eligibilities only: not IT Helpdesk's User Administrator ("When a user
        # gets their role eligibility via group membership, this Microsoft Graph request
        # doesn't return their eligibility", pim-how-to-activate-role).
        assert {i["principalId"] for i in mine.json()["value"]} == {ALINE.id}
        assert USER_ADMIN not in {i["roleDefinitionId"] for i in mine.json()["value"]}

    async def test_an_active_global_administrator_reads_everyone(
        self, graph: GraphCaller, user_token: Callable[[str], str]
    ) -> None:
        listed = await graph.call(
            "GET",
            ELIGIBLE,
            params={"$filter": f"principalId eq '{HELPDESK_GROUP}'"},
            token=user_token(ADMIN.id),
        )

        assert [i["roleDefinitionId"] for i in listed.json()["value"]] == [USER_ADMIN]

    async def test_a_request_is_readable_by_its_requester_and_readers_only(
        self, graph: GraphCaller, user_token: Callable[[str], str]
    ) -> None:
        made = await graph.post_request(
            request_body("selfActivate", ALINE.id, GLOBAL_ADMIN, duration="PT1H"),
            user_token(ALINE.id),
        )
        path = f"{REQUESTS}/{made.json()['id']}"

        own = await graph.call("GET", path, token=user_token(ALINE.id))
        other = await graph.call("GET", path, token=user_token(ALEX.id))
        reader = await graph.call("GET", path, token=user_token(ADMIN.id))

        assert own.status_code == reader.status_code == 200
        assert_graph_error(other, 403, DENIED)

    async def test_admin_actions_need_a_role_writer(
        self, graph: GraphCaller, user_token: Callable[[str], str], tenant: SandboxTenant
    ) -> None:
        body = request_body("adminAssign", ALEX.id, USER_ADMIN)

        refused = await graph.post_request(body, user_token(ALINE.id))
        allowed = await graph.post_request(body, user_token(ADMIN.id))

        assert_graph_error(refused, 403, DENIED)
        assert allowed.status_code == 201
        assert tenant.live_assignment(ALEX.id, USER_ADMIN) is not None
