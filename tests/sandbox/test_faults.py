"""Fault injection in process (ASGITransport) and the call log."""

from __future__ import annotations

import time

import httpx
import pytest

from bot.simulators.sandbox import Faults, SandboxTenant
from tests.support.cast import ALINE, USER_ADMIN
from tests.support.graph_caller import REQUESTS, GraphCaller, assert_graph_error, request_body


async def test_throttles_with_retry_after_then_recovers(graph: GraphCaller, faults: Faults) -> None:
    faults.throttle(times=2, retry_after=3, path="/v1.0/users")
    for _ in range(2):
        throttled = await graph.get(f"/v1.0/users/{ALINE.id}")
        assert_graph_error(throttled, 429, "TooManyRequests")
        assert throttled.headers["retry-after"] == "3"
    assert (await graph.get(f"/v1.0/users/{ALINE.id}", "user")).status_code == 200


@pytest.mark.parametrize("status", [500, 503, 504])
async def test_server_error_bursts(graph: GraphCaller, faults: Faults, status: int) -> None:
    faults.fail(status, times=3)
    for _ in range(3):
        assert_graph_error(await graph.get(f"/v1.0/users/{ALINE.id}"), status)
    assert (await graph.get(f"/v1.0/users/{ALINE.id}")).status_code == 200


async def test_faults_match_method_and_path(graph: GraphCaller, faults: Faults) -> None:
    faults.fail(503, method="POST", path=REQUESTS, retry_after=1)
    assert (await graph.get(f"/v1.0/users/{ALINE.id}")).status_code == 200
    assert (await graph.get(REQUESTS)).status_code == 200
    posted = await graph.post_request(request_body("adminAssign", ALINE.id, USER_ADMIN))
    assert posted.status_code == 503 and posted.headers["retry-after"] == "1"
    assert await graph.instances(ALINE.id) == []  # refused before processing


async def test_latency_delays_the_next_calls(graph: GraphCaller, faults: Faults) -> None:
    faults.latency(0.2, times=1)
    started = time.monotonic()
    await graph.get(f"/v1.0/users/{ALINE.id}")
    assert time.monotonic() - started >= 0.2
    assert faults.rules == []  # used up: the next call is not delayed


async def test_dropped_connection_is_a_transport_error(graph: GraphCaller, faults: Faults) -> None:
    faults.drop(method="POST")
    with pytest.raises(httpx.TransportError):
        await graph.post_request(request_body("adminAssign", ALINE.id, USER_ADMIN))
    assert await graph.instances(ALINE.id) == []  # dropped before processing
    assert [c.status for c in faults.find("POST", REQUESTS)] == [0]


async def test_lost_response_means_a_blind_retry_meets_the_first_write(
    graph: GraphCaller, faults: Faults
) -> None:
    faults.lose_response(method="POST", path=REQUESTS)
    body = request_body("adminAssign", ALINE.id, USER_ADMIN)
    with pytest.raises(httpx.TransportError):
        await graph.post_request(body)
    assert len(await graph.instances(ALINE.id)) == 1  # Graph did it
    assert_graph_error(await graph.post_request(body), 400, "RoleAssignmentExists")
    [lost, retried] = faults.find("POST", REQUESTS)
    assert lost.status == 0 and lost.response_body["status"] == "Provisioned"
    assert retried.status == 400


async def test_late_delivery_after_processing(graph: GraphCaller, faults: Faults) -> None:
    faults.lose_response(delay=0.1, deliver=True, method="POST")
    started = time.monotonic()
    late = await graph.post_request(request_body("adminAssign", ALINE.id, USER_ADMIN))
    assert late.status_code == 201 and time.monotonic() - started >= 0.1


async def test_the_log_counts_graph_calls_not_control_calls(
    graph: GraphCaller, faults: Faults, http: httpx.AsyncClient
) -> None:
    faults.clear_log()
    await graph.get(f"/v1.0/users/{ALINE.id}")
    await graph.get(REQUESTS)
    await http.get("/sandbox/clock")
    assert faults.count() == 2 and faults.count("GET", "/v1.0/users") == 1
    [call] = faults.find(path="/v1.0/users")
    assert call.status == 200 and call.response_body["id"] == ALINE.id and call.request_id


async def test_token_requests_are_logged_without_the_secret(
    http: httpx.AsyncClient, faults: Faults, app_token: str
) -> None:
    [call] = faults.find("POST", "/927c6607")
    assert call.request_body["client_secret"] == "***"


async def test_a_sandbox_bug_still_answers_in_graphs_envelope(
    app: object, tenant: SandboxTenant, app_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(tenant, "role", broken)
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="https://sandbox.test") as http:
        response = await http.get(
            f"/v1.0/roleManagement/directory/roleDefinitions/{USER_ADMIN}",
            headers={"Authorization": f"Bearer {app_token}"},
        )
    assert_graph_error(response, 500, "generalException")
