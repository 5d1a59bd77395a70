"""As in Graph, a signed-in user may read PIM policies only while holding a reader role
(Global Reader, Security Operator/Reader/Administrator, Privileged Role Administrator, or
Global Administrator); the application identity reads them with its permission alone."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.cast import ADMIN, ALINE, GLOBAL_READER, MEGAN
from tests.support.graph_caller import GraphCaller

POLICIES = "/v1.0/policies/roleManagementPolicyAssignments"
FILTER = {"$filter": "scopeId eq '/' and scopeType eq 'DirectoryRole'"}


async def _read_as(graph: GraphCaller, token: str) -> int:
    response = await graph.call("GET", POLICIES, params=FILTER, token=token)
    return response.status_code


async def test_a_user_with_no_role_active_is_refused(
    graph: GraphCaller, user_token: Callable[[str], str]
) -> None:
    response = await graph.call("GET", POLICIES, params=FILTER, token=user_token(ALINE.id))

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "Authorization_RequestDenied"


async def test_an_active_global_administrator_and_the_application_may_read(
    graph: GraphCaller, user_token: Callable[[str], str], app_token: str
) -> None:
    assert await _read_as(graph, user_token(ADMIN.id)) == 200
    assert await _read_as(graph, app_token) == 200


async def test_an_eligible_reader_may_read_once_the_role_is_active(
    graph: GraphCaller, user_token: Callable[[str], str]
) -> None:
    token = user_token(MEGAN.id)
    assert await _read_as(graph, token) == 403  # eligible is not enough

    body = {
        "action": "selfActivate",
        "principalId": MEGAN.id,
        "roleDefinitionId": GLOBAL_READER,
        "directoryScopeId": "/",
        "justification": "Review the PIM settings",
        "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": "PT1H"}},
    }
    assert (await graph.post_request(body, token=token)).status_code == 201

    assert await _read_as(graph, token) == 200
