"""The fake Slack's two servers answer alike: the threaded one the tests use, and the
loop server benchmarks use (`FakeSlack(fast=True)`) — same answers, same 429s with
`Retry-After` when a channel is paced, same records; the loop server refuses what it
cannot read rather than guessing."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.support.slack import FakeSlack


@pytest.fixture(params=[False, True], ids=["threaded", "loop"])
def slack(request: pytest.FixtureRequest) -> Iterator[FakeSlack]:
    with FakeSlack(fast=request.param) as fake:
        yield fake


def _client(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-servers", base_url=slack.api_url)


async def test_answers_and_records_alike(slack: FakeSlack) -> None:
    client = _client(slack)
    user = await client.users_info(user="U_ALINE")
    assert user["user"]["tz"] == "Europe/Paris"
    with pytest.raises(SlackApiError) as missing:
        await client.users_info(user="U_NOBODY")
    assert missing.value.response["error"] == "user_not_found"
    posted = await client.chat_postMessage(channel="C1", text="hello", blocks=[])
    assert posted["channel"] == "C1" and posted["ts"]
    assert [c.method for c in slack.calls()] == ["users.info", "users.info", "chat.postMessage"]
    assert slack.calls("chat.postMessage")[0].body["text"] == "hello"


async def test_a_paced_channel_answers_429_with_retry_after(slack: FakeSlack) -> None:
    slack.pace_channels(per_second=1.0, burst=1)
    client = _client(slack)
    await client.chat_postMessage(channel="C1", text="one")
    with pytest.raises(SlackApiError) as limited:
        await client.chat_postMessage(channel="C1", text="two")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "1"
    assert [c.limited for c in slack.calls("chat.postMessage")] == [False, True]


def test_a_request_it_cannot_read_is_refused_not_guessed() -> None:
    """A chunked body (Slack's clients send Content-Length) gets 400 and a closed
    connection from the loop server."""
    with FakeSlack(fast=True) as slack:
        host, port = slack.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as conn:
            conn.sendall(
                b"POST /api/chat.postMessage HTTP/1.1\r\nHost: x\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
            )
            answer = conn.recv(1024)
        assert answer.startswith(b"HTTP/1.1 400 ")
        assert slack.calls() == []
