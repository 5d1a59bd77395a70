"""The /sandbox/ control endpoints: approvals, clock, faults, user tokens, reset."""

from __future__ import annotations

from typing import Any

import httpx

from bot.clock import Clock
from bot.simulators.sandbox import SandboxTenant, create_app
from tests.support.cast import ADMIN, ALEX, ALINE, GLOBAL_ADMIN, USER_ADMIN
from tests.support.graph_caller import (
    BASE,
    CLIENT_FORM,
    TOKEN_PATH,
    GraphCaller,
    assert_graph_error,
    request_body,
)
from tests.support.graph_schema import assert_graph_valid


async def pending(graph: GraphCaller) -> str:
    response = await graph.post_request(
        request_body("selfActivate", ALINE.id, GLOBAL_ADMIN, duration="PT1H")
    )
    assert response.json()["status"] == "PendingApproval"
    request_id: str = response.json()["id"]
    return request_id


async def test_approve_over_http(graph: GraphCaller, http: httpx.AsyncClient) -> None:
    request_id = await pending(graph)
    approved = await http.post(
        f"/sandbox/requests/{request_id}/approve",
        json={"reviewer": ADMIN.upn},
    )
    assert approved.status_code == 200 and approved.json()["status"] == "Provisioned"
    assert_graph_valid(graph.schema, "unifiedRoleAssignmentScheduleRequest", approved.json())
    assert [i["roleDefinitionId"] for i in await graph.instances(ALINE.id)] == [GLOBAL_ADMIN]
    again = await http.post(f"/sandbox/requests/{request_id}/approve")
    assert_graph_error(again, 400)


async def test_only_listed_approvers_may_decide(
    graph: GraphCaller, http: httpx.AsyncClient
) -> None:
    request_id = await pending(graph)
    refused = await http.post(f"/sandbox/requests/{request_id}/deny", json={"reviewer": ALEX.id})
    assert_graph_error(refused, 403)
    denied = await http.post(
        f"/sandbox/requests/{request_id}/deny", json={"reviewer": ADMIN.id, "justification": "no"}
    )
    assert denied.json()["status"] == "Denied"
    assert_graph_valid(graph.schema, "unifiedRoleAssignmentScheduleRequest", denied.json())


async def test_advance_the_clock(graph: GraphCaller, http: httpx.AsyncClient) -> None:
    await graph.post_request(request_body("selfActivate", ALINE.id, USER_ADMIN, duration="PT1H"))
    now = await http.post("/sandbox/clock", json={"seconds": 3600})
    assert now.json()["now"] == "2026-11-29T10:00:00Z"
    assert await graph.instances(ALINE.id) == []


async def test_a_fixed_clock_cannot_advance(clock: Clock) -> None:
    class Fixed:
        def now(self):  # type: ignore[no-untyped-def]
            return clock.now()

    app = create_app(SandboxTenant.from_seed(Fixed()))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=BASE) as http:
        assert_graph_error(await http.post("/sandbox/clock", json={"seconds": 1}), 409)


async def test_configure_faults_over_http(graph: GraphCaller, http: httpx.AsyncClient) -> None:
    added = await http.post(
        "/sandbox/faults", json={"kind": "status", "status": 429, "retryAfter": 2}
    )
    assert added.status_code == 201
    throttled = await graph.get(f"/v1.0/users/{ALINE.id}")
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "2"
    listing = (await http.get("/sandbox/faults")).json()
    assert listing["rules"] == [] and listing["calls"][-1]["status"] == 429
    assert (await http.delete("/sandbox/faults")).status_code == 204
    assert (await http.get("/sandbox/faults")).json()["calls"] == []
    bad = await http.post("/sandbox/faults", json={"kind": "explode"})
    assert_graph_error(bad, 400)


async def test_mint_a_delegated_token(graph: GraphCaller, http: httpx.AsyncClient) -> None:
    minted = await http.post("/sandbox/tokens", json={"user": ALINE.upn})
    token = minted.json()["access_token"]
    me = await graph.call("GET", "/v1.0/me", "user", token=token)
    assert me.json()["id"] == ALINE.id
    assert_graph_error(await graph.call("GET", "/v1.0/me"), 400)  # app-only token


async def test_reset_to_seed(graph: GraphCaller, http: httpx.AsyncClient) -> None:
    await graph.post_request(request_body("adminAssign", ALINE.id, USER_ADMIN))
    assert (await http.post("/sandbox/reset")).status_code == 204
    assert await graph.instances(ALINE.id) == []  # and the token still works


async def test_filter_by_current_user_needs_a_signed_in_user(
    graph: GraphCaller, user_token: Any
) -> None:
    await graph.post_request(request_body("selfActivate", ALINE.id, USER_ADMIN))
    path = "/v1.0/roleManagement/directory/roleAssignmentScheduleInstances"
    mine = await graph.call(
        "GET",
        f"{path}/filterByCurrentUser(on='principal')",
        "unifiedRoleAssignmentScheduleInstance",
        token=user_token(ALINE.id),
    )
    assert [i["principalId"] for i in mine.json()["value"]] == [ALINE.id]
    assert_graph_error(await graph.call("GET", f"{path}/filterByCurrentUser(on='principal')"), 400)


async def test_the_call_log_says_who_called_what_and_when(
    graph: GraphCaller, http: httpx.AsyncClient, tenant: SandboxTenant, user_token: Any
) -> None:
    """GET /sandbox/calls lists Graph and token-endpoint calls (never the controls), each
    with its query, status, caller object id and sandbox-clock time, so anyone can see
    what the bot did."""
    await http.delete("/sandbox/faults")  # the fixtures' own sign-in is not this test's
    await http.post("/sandbox/clock", json={"seconds": 60})
    await graph.get(f"/v1.0/users/{ALINE.id}?$select=id")
    path = "/v1.0/roleManagement/directory/roleAssignmentScheduleInstances"
    await graph.call(
        "GET", f"{path}/filterByCurrentUser(on='principal')", token=user_token(ALINE.id)
    )
    await http.post(TOKEN_PATH, data=CLIENT_FORM)
    await http.post(TOKEN_PATH, data={**CLIENT_FORM, "client_id": "not-our-app"})
    await graph.call("GET", f"/v1.0/users/{ALINE.id}", token="forged")

    calls = (await http.get("/sandbox/calls")).json()["value"]

    app = tenant.seed.service_principal_id
    assert [(c["method"], c["path"], c["status"], c["caller"]) for c in calls] == [
        ("GET", f"/v1.0/users/{ALINE.id}?$select=id", 200, app),
        ("GET", f"{path}/filterByCurrentUser(on='principal')", 200, ALINE.id),
        ("POST", TOKEN_PATH, 200, app),
        ("POST", TOKEN_PATH, 400, None),
        ("GET", f"/v1.0/users/{ALINE.id}", 401, None),
    ]
    assert {c["time"] for c in calls} == {"2026-11-29T09:01:00Z"}
