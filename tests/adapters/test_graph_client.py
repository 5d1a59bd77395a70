"""GraphClient: retries, budgets, error envelopes, paging and POST recovery."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bot.errors import GraphError, GraphThrottled, GraphUnavailable
from bot.graph.retry import RetryPolicy, parse_retry_after
from tests.support.cast import USER_ADMIN
from tests.support.graph_fakes import (
    BASE,
    FakeTimer,
    Recorder,
    assert_request_valid,
    envelope,
    make_client,
    scripted,
)

OK = httpx.Response(200, json={"value": [1]})
# What these tests POST: a real schedule request body (checked against the schema below).
BODY = {
    "action": "adminAssign",
    "principalId": "aline-id",
    "roleDefinitionId": USER_ADMIN,
    "directoryScopeId": "/",
    "justification": "Invalidate refresh tokens.",
    "scheduleInfo": {
        "startDateTime": "2026-11-29T09:00:00Z",
        "expiration": {"type": "afterDuration", "duration": "PT5H"},
    },
}


def test_the_posted_body_is_a_valid_schedule_request(graph_schema: dict[str, Any]) -> None:
    assert_request_valid(graph_schema, BODY)


class TestRetries:
    async def test_succeeds_after_two_429s_honouring_retry_after(self) -> None:
        timer = FakeTimer()
        rec = Recorder(
            scripted(
                envelope(429, "TooManyRequests", **{"Retry-After": "2"}),
                envelope(429, "TooManyRequests", **{"Retry-After": "3"}),
                OK,
            )
        )
        assert await make_client(rec, timer=timer).get("/v1.0/x") == {"value": [1]}
        assert timer.delays == [2.0, 3.0]
        assert len(rec.requests) == 3

    async def test_gives_up_after_the_attempt_budget_with_a_plain_message(self) -> None:
        timer = FakeTimer()
        rec = Recorder(
            scripted(envelope(429, "TooManyRequests", request_id="rid-42", **{"Retry-After": "1"}))
        )
        client = make_client(rec, timer=timer, retry=RetryPolicy(max_attempts=4))
        with pytest.raises(GraphThrottled) as caught:
            await client.get("/v1.0/x")
        assert len(rec.requests) == 4
        assert timer.delays == [1.0, 1.0, 1.0]
        assert "try again" in caught.value.user_message
        assert "rid-42" in caught.value.user_message
        assert (caught.value.status, caught.value.request_id) == (429, "rid-42")

    async def test_gives_up_when_the_total_time_budget_would_be_passed(self) -> None:
        timer = FakeTimer()
        rec = Recorder(scripted(envelope(429, "TooManyRequests", **{"Retry-After": "4"})))
        retry = RetryPolicy(max_attempts=10, max_total=10.0)
        with pytest.raises(GraphThrottled):
            await make_client(rec, timer=timer, retry=retry).get("/v1.0/x")
        assert timer.delays == [4.0, 4.0]  # a third wait would end past 10 s

    async def test_does_not_wait_for_a_retry_after_longer_than_the_budget(self) -> None:
        timer = FakeTimer()
        rec = Recorder(scripted(envelope(429, "TooManyRequests", **{"Retry-After": "3600"})))
        with pytest.raises(GraphThrottled):
            await make_client(rec, timer=timer).get("/v1.0/x")
        assert timer.delays == []
        assert len(rec.requests) == 1

    async def test_never_retries_a_400(self) -> None:
        timer = FakeTimer()
        rec = Recorder(scripted(envelope(400, "BadRequest", "Invalid filter clause")))
        with pytest.raises(GraphError) as caught:
            await make_client(rec, timer=timer).get("/v1.0/x")
        assert len(rec.requests) == 1 and timer.delays == []
        assert type(caught.value) is GraphError
        assert caught.value.code == "BadRequest"

    async def test_503_burst_then_success_backs_off_exponentially(self) -> None:
        timer = FakeTimer()
        rec = Recorder(scripted(*[envelope(503, "ServiceUnavailable")] * 3, OK))
        await make_client(rec, timer=timer).get("/v1.0/x")
        # base 0.5 s doubling, shortened by jitter 0.5 * rand (rand fixed at 0.5)
        assert timer.delays == [0.375, 0.75, 1.5]

    async def test_503_past_the_budget_is_unavailable(self) -> None:
        rec = Recorder(scripted(envelope(503, "ServiceUnavailable", request_id="rid-5")))
        with pytest.raises(GraphUnavailable) as caught:
            await make_client(rec, retry=RetryPolicy(max_attempts=2)).get("/v1.0/x")
        assert caught.value.request_id == "rid-5"
        assert "try again" in caught.value.user_message

    @pytest.mark.parametrize(
        "error",
        [
            httpx.ConnectError("refused"),
            httpx.ReadTimeout("slow"),
            httpx.RemoteProtocolError("peer closed connection"),
        ],
    )
    async def test_transport_errors_are_retried_for_reads(self, error: Exception) -> None:
        rec = Recorder(scripted(error, error, OK))
        assert await make_client(rec).get("/v1.0/x") == {"value": [1]}
        assert len(rec.requests) == 3

    async def test_transport_errors_past_the_budget_are_unavailable(self) -> None:
        rec = Recorder(scripted(httpx.ConnectError("refused")))
        with pytest.raises(GraphUnavailable):
            await make_client(rec, retry=RetryPolicy(max_attempts=3)).get("/v1.0/x")
        assert len(rec.requests) == 3

    def test_retry_after_is_read_as_seconds(self) -> None:
        assert parse_retry_after("7") == 7.0
        assert parse_retry_after(None) is None
        assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None


class TestPost:
    async def test_not_duplicated_when_the_response_was_lost_but_graph_applied_it(self) -> None:
        created: list[dict[str, str]] = []

        def graph(request: httpx.Request) -> httpx.Response:
            created.append({"id": "req-1", "status": "Provisioned"})
            raise httpx.RemoteProtocolError("server disconnected without a response")

        rec = Recorder(graph)
        checks: list[int] = []

        async def recover() -> dict[str, str] | None:
            checks.append(1)
            return created[0] if created else None

        result = await make_client(rec).post("/v1.0/requests", BODY, recover=recover)
        assert result == {"id": "req-1", "status": "Provisioned"}
        assert len(rec.requests) == 1 and len(created) == 1 and checks == [1]

    async def test_resent_when_recovery_finds_nothing(self) -> None:
        rec = Recorder(scripted(httpx.ReadTimeout("slow"), httpx.Response(201, json={"id": "r"})))

        async def recover() -> None:
            return None

        assert await make_client(rec).post("/v1.0/requests", BODY, recover=recover) == {"id": "r"}
        assert len(rec.requests) == 2

    async def test_5xx_on_post_checks_before_resending(self) -> None:
        rec = Recorder(scripted(envelope(503, "ServiceUnavailable"), httpx.Response(201, json={})))
        checks: list[int] = []

        async def recover() -> None:
            checks.append(1)

        await make_client(rec).post("/v1.0/requests", BODY, recover=recover)
        assert checks == [1] and len(rec.requests) == 2

    async def test_without_recovery_an_ambiguous_failure_is_not_resent(self) -> None:
        rec = Recorder(scripted(httpx.ReadTimeout("slow")))
        with pytest.raises(GraphUnavailable) as caught:
            await make_client(rec).post("/v1.0/requests", BODY)
        assert len(rec.requests) == 1
        assert "may have been applied" in caught.value.user_message

    async def test_429_and_refused_connections_are_resent_without_checking(self) -> None:
        rec = Recorder(
            scripted(
                envelope(429, "TooManyRequests", **{"Retry-After": "1"}),
                httpx.ConnectError("refused"),
                httpx.Response(201, json={"id": "r"}),
            )
        )

        async def recover() -> None:
            raise AssertionError("a request that never ran needs no check")

        assert await make_client(rec).post("/v1.0/requests", BODY, recover=recover) == {"id": "r"}

    async def test_a_204_answer_is_an_empty_object(self) -> None:
        rec = Recorder(scripted(httpx.Response(204)))
        assert await make_client(rec).post("/v1.0/requests/1/cancel") == {}


class TestErrors:
    async def test_envelope_becomes_graph_error_with_code_status_and_request_id(self) -> None:
        rec = Recorder(scripted(envelope(404, "Request_ResourceNotFound", "gone", "rid-9")))
        with pytest.raises(GraphError) as caught:
            await make_client(rec).get("/v1.0/users/x")
        err = caught.value
        assert (err.code, err.status, err.request_id) == ("Request_ResourceNotFound", 404, "rid-9")
        assert "rid-9" in err.user_message

    async def test_an_unreadable_success_body_is_a_graph_error(self) -> None:
        rec = Recorder(scripted(httpx.Response(200, text="<html>proxy</html>")))
        with pytest.raises(GraphError, match="could not read"):
            await make_client(rec).get("/v1.0/x")

    async def test_request_id_falls_back_to_the_header(self) -> None:
        response = httpx.Response(400, text="not json", headers={"request-id": "hdr-1"})
        with pytest.raises(GraphError) as caught:
            await make_client(Recorder(scripted(response))).get("/v1.0/x")
        assert (caught.value.code, caught.value.request_id) == ("http400", "hdr-1")

    @pytest.mark.parametrize(
        ("status", "code", "message", "expected"),
        [
            (400, "RoleAssignmentExists", "", "already active"),
            (404, "RoleAssignmentDoesNotExist", "", "not active"),
            (
                400,
                "RoleAssignmentRequestPolicyValidationFailed",
                'The following policy rules failed: ["TicketingRule","ExpirationRule"]',
                "requires a ticket number; the duration is longer",
            ),
            (403, "Authorization_RequestDenied", "Insufficient privileges", "RoleAssignment"),
            (401, "InvalidAuthenticationToken", "expired", "credentials"),
        ],
    )
    async def test_common_pim_codes_read_as_plain_english(
        self, status: int, code: str, message: str, expected: str
    ) -> None:
        rec = Recorder(scripted(envelope(status, code, message)))
        path = "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests"
        with pytest.raises(GraphError) as caught:
            await make_client(rec).post(path, BODY)
        assert expected in caught.value.user_message
        assert caught.value.code == code


class TestPaging:
    async def test_follows_odata_next_link(self) -> None:
        pages = {
            "/v1.0/x": {"value": [1, 2], "@odata.nextLink": f"{BASE}/v1.0/x?$skiptoken=a"},
            "/v1.0/x?$skiptoken=a": {
                "value": [3],
                "@odata.nextLink": f"{BASE}/v1.0/x?$skiptoken=b",
            },
            "/v1.0/x?$skiptoken=b": {"value": [4]},
        }

        def graph(request: httpx.Request) -> httpx.Response:
            key = request.url.raw_path.decode().replace("%24", "$")
            return httpx.Response(200, json=pages[key])

        assert await make_client(Recorder(graph)).get_all("/v1.0/x") == [1, 2, 3, 4]

    async def test_refuses_a_next_link_to_another_host(self) -> None:
        page = {"value": [1], "@odata.nextLink": "https://evil.test/steal"}
        rec = Recorder(scripted(httpx.Response(200, json=page)))
        with pytest.raises(GraphError):
            await make_client(rec).get_all("/v1.0/x")
        assert len(rec.requests) == 1


class TestSharedThrottle:
    """Graph throttles the client app as a whole ("limits any further requests from that
    client app for some time", https://learn.microsoft.com/graph/throttling): one 429's
    Retry-After holds back the next callers too."""

    async def test_the_next_caller_waits_out_another_callers_retry_after(self) -> None:
        timer = FakeTimer()
        rec = Recorder(scripted(envelope(429, "TooManyRequests", **{"Retry-After": "5"}), OK))
        client = make_client(rec, timer=timer, retry=RetryPolicy(max_attempts=1))
        with pytest.raises(GraphThrottled):
            await client.get("/v1.0/first")  # gives up at once: no wait of its own
        assert timer.delays == []
        assert await client.get("/v1.0/second") == {"value": [1]}
        assert timer.delays == [5.0]  # waited before sending, so Graph saw no early retry
        assert len(rec.requests) == 2

    async def test_no_wait_once_the_pause_has_passed(self) -> None:
        timer = FakeTimer()
        rec = Recorder(scripted(envelope(429, "TooManyRequests", **{"Retry-After": "5"}), OK))
        client = make_client(rec, timer=timer, retry=RetryPolicy(max_attempts=1))
        with pytest.raises(GraphThrottled):
            await client.get("/v1.0/first")
        timer.now += 6
        assert await client.get("/v1.0/second") == {"value": [1]}
        assert timer.delays == []

    async def test_the_throttled_caller_itself_waits_once(self) -> None:
        timer = FakeTimer()
        rec = Recorder(scripted(envelope(429, "TooManyRequests", **{"Retry-After": "2"}), OK))
        assert await make_client(rec, timer=timer).get("/v1.0/x") == {"value": [1]}
        assert timer.delays == [2.0]
