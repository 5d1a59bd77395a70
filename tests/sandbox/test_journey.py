"""The PIM tutorial journey at the HTTP level: sign in, see Aline's eligibility through
IT Helpdesk (User), assign User Administrator for 5 h with a ticket, then remove it."""

from __future__ import annotations

from datetime import timedelta

import httpx

from tests.support.cast import ALINE, HELPDESK_GROUP, USER_ADMIN
from tests.support.clock import FakeClock
from tests.support.graph_caller import CLIENT_FORM, RM, TOKEN_PATH, GraphCaller, request_body


async def test_tutorial_journey(
    http: httpx.AsyncClient, graph: GraphCaller, clock: FakeClock
) -> None:
    token = await http.post(TOKEN_PATH, data=CLIENT_FORM)
    assert token.status_code == 200 and token.json()["token_type"] == "Bearer"
    assert token.json()["expires_in"] > 0

    aline = await graph.get(f"/v1.0/users/{ALINE.upn}", "user")
    assert aline.json()["id"] == ALINE.id and aline.json()["displayName"] == "Aline Dupuy"

    groups = await graph.get(f"/v1.0/users/{ALINE.id}/transitiveMemberOf", "group")
    assert HELPDESK_GROUP in [g["id"] for g in groups.json()["value"]]

    eligible = await graph.get(
        f"{RM}/roleEligibilityScheduleInstances",
        "unifiedRoleEligibilityScheduleInstance",
        **{"$filter": f"principalId eq '{HELPDESK_GROUP}'", "$expand": "roleDefinition"},
    )
    [helpdesk] = eligible.json()["value"]
    assert helpdesk["roleDefinitionId"] == USER_ADMIN
    assert helpdesk["roleDefinition"]["displayName"] == "User Administrator"
    assert helpdesk["endDateTime"] == "2027-11-29T09:00:00Z"  # one year from the clock start

    assert [i for i in await graph.instances(ALINE.id) if i["roleDefinitionId"] == USER_ADMIN] == []

    body = request_body(
        "adminAssign",
        ALINE.id,
        USER_ADMIN,
        ticket="CONTOSO:Security-012345",
        justification="Assign User Admin to IT Helpdesk (User) group",
    )
    created = await graph.post_request(body)
    assert created.status_code == 201
    assert created.json()["status"] == "Provisioned"
    assert created.json()["ticketInfo"]["ticketNumber"] == "CONTOSO:Security-012345"
    [instance] = [i for i in await graph.instances(ALINE.id) if i["roleDefinitionId"] == USER_ADMIN]
    assert instance["assignmentType"] == "Assigned"
    assert instance["startDateTime"] == "2026-11-29T09:00:00Z"
    assert instance["endDateTime"] == "2026-11-29T14:00:00Z"

    clock.advance(timedelta(hours=1))
    removed = await graph.post_request(
        request_body("adminRemove", ALINE.id, USER_ADMIN, duration=None)
    )
    assert removed.status_code == 201 and removed.json()["status"] == "Revoked"
    assert [i for i in await graph.instances(ALINE.id) if i["roleDefinitionId"] == USER_ADMIN] == []

    listed = await graph.get(
        f"{RM}/roleAssignmentScheduleRequests",
        "unifiedRoleAssignmentScheduleRequest",
        **{"$filter": f"principalId eq '{ALINE.id}'"},
    )
    assert [r["action"] for r in listed.json()["value"]] == ["adminAssign", "adminRemove"]
    one = await graph.get(
        f"{RM}/roleAssignmentScheduleRequests/{created.json()['id']}",
        "unifiedRoleAssignmentScheduleRequest",
    )
    assert one.json()["id"] == created.json()["id"]
