"""The sandbox's Graph beta approval API and authentication-context claims challenge."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from bot.signin.challenge import claims_from_header, claims_from_pim_error
from bot.simulators.sandbox.approvals import BASE, step_id
from tests.support.cast import ADMIN, ALINE, DIEGO, GLOBAL_ADMIN, MEGAN, PRIV_ROLE_ADMIN
from tests.support.graph_caller import REQUESTS, GraphCaller, assert_graph_error, request_body

STEP_KEYS = {
    "id",
    "displayName",
    "assignedToMe",
    "status",
    "reviewResult",
    "justification",
    "reviewedBy",
    "reviewedDateTime",
}


async def _pending(graph: GraphCaller, token: str) -> dict[str, Any]:
    response = await graph.post_request(
        request_body("selfActivate", ALINE.id, GLOBAL_ADMIN, duration="PT1H"), token
    )
    body: dict[str, Any] = response.json()
    assert body["status"] == "PendingApproval" and body["approvalId"]
    return body


async def test_an_approval_has_one_step_assigned_to_the_approver(
    graph: GraphCaller, user_token: Callable[[str], str]
) -> None:
    request = await _pending(graph, user_token(ALINE.id))
    path = f"{BASE}/{request['approvalId']}"

    mine = (await graph.http.get(path, headers=_auth(user_token(ADMIN.id)))).json()
    theirs = (await graph.http.get(path, headers=_auth(user_token(ALINE.id)))).json()

    (step,) = mine["steps"]
    assert set(step) == STEP_KEYS and mine["id"] == request["approvalId"]
    assert step["assignedToMe"] is True and step["status"] == "InProgress"
    assert step["reviewResult"] == "NotReviewed" and step["reviewedBy"] is None
    assert theirs["steps"][0]["assignedToMe"] is False  # the requester's own request
    listed = (await graph.http.get(f"{path}/steps", headers=_auth(user_token(ADMIN.id)))).json()
    assert listed["value"] == [step]


async def test_patching_the_step_approves_and_provisions(
    graph: GraphCaller, user_token: Callable[[str], str]
) -> None:
    request = await _pending(graph, user_token(ALINE.id))
    path = f"{BASE}/{request['approvalId']}"
    step = f"{path}/steps/{step_id(request['approvalId'])}"
    admin = _auth(user_token(ADMIN.id))

    done = await graph.http.patch(
        step, json={"reviewResult": "Approve", "justification": "ok"}, headers=admin
    )
    assert done.status_code == 204
    after = (await graph.http.get(path, headers=admin)).json()["steps"][0]
    assert after["status"] == "Completed" and after["reviewResult"] == "Approve"
    assert after["reviewedBy"]["id"] == ADMIN.id and after["reviewedDateTime"]
    decided = await graph.get(f"{REQUESTS}/{request['id']}")
    assert decided.json()["status"] == "Provisioned"
    assert [i["assignmentType"] for i in await graph.instances(ALINE.id)] == ["Activated"]
    again = await graph.http.patch(
        step, json={"reviewResult": "Deny", "justification": "late"}, headers=admin
    )
    assert_graph_error(again, 409)


async def test_only_a_signed_in_approver_with_a_reason_may_review(
    graph: GraphCaller, user_token: Callable[[str], str], app_token: str
) -> None:
    request = await _pending(graph, user_token(ALINE.id))
    step = f"{BASE}/{request['approvalId']}/steps/{step_id(request['approvalId'])}"
    body = {"reviewResult": "Approve", "justification": "ok"}

    assert_graph_error(await graph.http.patch(step, json=body, headers=_auth(app_token)), 403)
    own = await graph.http.patch(step, json=body, headers=_auth(user_token(ALINE.id)))
    assert_graph_error(own, 403)
    not_approver = await graph.http.patch(step, json=body, headers=_auth(user_token(MEGAN.id)))
    assert_graph_error(not_approver, 403)  # Megan approves other roles, not this one
    blank = {"reviewResult": "Approve", "justification": " "}
    assert_graph_error(
        await graph.http.patch(step, json=blank, headers=_auth(user_token(ADMIN.id))), 400
    )
    wrong = f"{BASE}/{request['approvalId']}/steps/nope"
    assert_graph_error(
        await graph.http.patch(wrong, json=body, headers=_auth(user_token(ADMIN.id))), 404
    )
    unknown = f"{BASE}/unknown"
    assert_graph_error(await graph.http.get(unknown, headers=_auth(user_token(ADMIN.id))), 404)
    # The approval API takes no application permission at all: an app token is refused.
    assert_graph_error(await graph.http.get(unknown, headers=_auth(app_token)), 403)


async def test_a_role_with_an_authentication_context_answers_pims_400_with_the_claims(
    graph: GraphCaller, tenant: Any
) -> None:
    """PIM answers a missing authentication context with 400
    RoleAssignmentRequestAcrsValidationFailed, the claims URL-encoded after `claims=` in
    the message (https://doitpshway.com/automating-azure-pim-role-activation-secured-with-
    fido2passkey-with-powershell), not with a 401 WWW-Authenticate challenge."""
    body = request_body(
        "selfActivate", DIEGO.id, PRIV_ROLE_ADMIN, duration="PT1H", ticket="CONTOSO:S-012345"
    )
    plain, _ = tenant.tokens.issue("user", DIEGO.id, tenant.client_id)
    stepped, _ = tenant.tokens.issue("user", DIEGO.id, tenant.client_id, frozenset({"c1"}))

    refused = await graph.post_request(body, plain)

    error = assert_graph_error(refused, 400, "RoleAssignmentRequestAcrsValidationFailed")
    assert "WWW-Authenticate" not in refused.headers
    claims = claims_from_pim_error(refused.json())
    assert claims is not None and "&claims=" in error["message"]
    assert json.loads(claims) == {"access_token": {"acrs": {"essential": True, "value": "c1"}}}
    assert tenant.live_assignment(DIEGO.id, PRIV_ROLE_ADMIN) is None
    accepted = await graph.post_request(body, stepped)
    assert accepted.status_code == 201 and accepted.json()["status"] == "PendingApproval"


def test_pims_own_acrs_error_is_read_as_a_claims_challenge() -> None:
    claims = '{"access_token":{"acrs":{"essential":true, "value":"c1"}}}'
    message = "&claims=" + quote(claims, safe="")  # as Azure PIM spells it
    error = {"error": {"code": "RoleAssignmentRequestAcrsValidationFailed", "message": message}}
    assert claims_from_pim_error(error) == claims
    assert claims_from_pim_error({"error": {"code": "Other", "message": message}}) is None
    assert claims_from_header('Bearer realm="", error="invalid_token"') is None


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_the_policy_names_the_authentication_context(graph: GraphCaller) -> None:
    params = {
        "$filter": "scopeId eq '/' and scopeType eq 'DirectoryRole' and "
        f"roleDefinitionId eq '{PRIV_ROLE_ADMIN}'",
        "$expand": "policy($expand=rules)",
    }
    response = await graph.get("/v1.0/policies/roleManagementPolicyAssignments", **params)
    rules = {r["id"]: r for r in response.json()["value"][0]["policy"]["rules"]}
    rule = rules["AuthenticationContext_EndUser_Assignment"]
    assert (rule["isEnabled"], rule["claimValue"]) == (True, "c1")
