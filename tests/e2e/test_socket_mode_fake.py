"""The fake Slack's Socket Mode (tests/support/socket_mode.py) is as strict as Slack:
several connections, each envelope to one of them, unacked envelopes redelivered to
another connection, at most 10 connections, the app-level token in the header."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import httpx
import pytest

from tests.support.slack import FakeSlack
from tests.support.socket_mode import FakeSocketMode


@pytest.fixture
def socket_mode() -> Iterator[tuple[FakeSocketMode, FakeSlack]]:
    with FakeSocketMode(ack_timeout=0.3) as socket, FakeSlack(socket_mode=socket) as slack:
        yield socket, slack


APP_TOKEN = "xapp-1-test"


def open_url(slack: FakeSlack, token: str | None = APP_TOKEN) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer: dict[str, Any] = httpx.post(
        f"{slack.api_url}apps.connections.open", headers=headers, timeout=10
    ).json()
    return answer


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


async def connect(http: aiohttp.ClientSession, slack: FakeSlack) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(open_url(slack)["url"])
    hello = await ws.receive_json(timeout=5)
    assert hello["type"] == "hello"
    return ws


def test_apps_connections_open_wants_an_app_level_token_in_the_header(
    socket_mode: tuple[FakeSocketMode, FakeSlack],
) -> None:
    _socket, slack = socket_mode
    assert open_url(slack, None) == {"ok": False, "error": "not_authed"}
    assert open_url(slack, "xoxb-bot")["error"] == "not_allowed_token_type"
    first, second = open_url(slack)["url"], open_url(slack)["url"]
    assert first.startswith("ws://") and first != second  # a fresh URL per call


async def test_a_url_works_once(
    socket_mode: tuple[FakeSocketMode, FakeSlack], session: aiohttp.ClientSession
) -> None:
    _socket, slack = socket_mode
    url = open_url(slack)["url"]
    ws = await session.ws_connect(url)
    await ws.receive_json(timeout=5)
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await session.ws_connect(url)


async def test_the_eleventh_connection_is_told_too_many_websockets(
    socket_mode: tuple[FakeSocketMode, FakeSlack], session: aiohttp.ClientSession
) -> None:
    socket, slack = socket_mode
    held = [await connect(session, slack) for _ in range(10)]
    extra = await session.ws_connect(open_url(slack)["url"])

    told = await extra.receive_json(timeout=5)

    assert told == {"type": "disconnect", "reason": "too_many_websockets"}
    assert (await extra.receive(timeout=5)).type == aiohttp.WSMsgType.CLOSE
    assert len(socket.connections()) == 10 and len(held) == 10


async def test_envelopes_are_spread_over_the_connections_each_to_one(
    socket_mode: tuple[FakeSocketMode, FakeSlack], session: aiohttp.ClientSession
) -> None:
    socket, slack = socket_mode
    sockets = [await connect(session, slack) for _ in range(3)]
    keys = [await asyncio.to_thread(socket.send, "slash_commands", {"n": n}) for n in range(9)]
    got = [await ws.receive_json(timeout=5) for ws in sockets for _ in range(3)]
    for ws, envelope in zip([s for s in sockets for _ in range(3)], got, strict=True):
        await ws.send_json({"envelope_id": envelope["envelope_id"]})
    acks = [await asyncio.to_thread(socket.wait_acked, k, 5) for k in keys]

    assert sorted(e["payload"]["n"] for e in got) == list(range(9))
    assert len({a.connection for a in acks}) == 3
    assert all(len(socket.deliveries(k)) == 1 for k in keys)


async def test_an_unacked_envelope_goes_to_another_connection_under_a_new_id(
    socket_mode: tuple[FakeSocketMode, FakeSlack], session: aiohttp.ClientSession
) -> None:
    socket, slack = socket_mode
    first, second = await connect(session, slack), await connect(session, slack)
    key = await asyncio.to_thread(socket.send, "events_api", {"event_id": "Ev1"})
    (delivered,) = socket.deliveries(key)
    silent, other = (first, second) if delivered.connection == 1 else (second, first)
    original = await silent.receive_json(timeout=5)  # ...and never acked

    again = await other.receive_json(timeout=5)
    await silent.send_json({"envelope_id": again["envelope_id"]})  # not its envelope
    await other.send_json({"envelope_id": again["envelope_id"]})
    ack = await asyncio.to_thread(socket.wait_acked, key, 5)

    assert again["payload"] == original["payload"] == {"event_id": "Ev1"}
    assert again["envelope_id"] != original["envelope_id"]
    assert (original["retry_attempt"], again["retry_attempt"]) == (0, 1)
    assert again["retry_reason"] == "timeout"
    assert ack.envelope_id == again["envelope_id"] and ack.connection != delivered.connection


@pytest.mark.slow  # waits out four ack timeouts and a silence
async def test_redelivery_stops_after_three_retries(
    socket_mode: tuple[FakeSocketMode, FakeSlack], session: aiohttp.ClientSession
) -> None:
    socket, slack = socket_mode
    ws = await connect(session, slack)
    key = await asyncio.to_thread(socket.send, "interactive", {"type": "block_actions"})
    seen = [await ws.receive_json(timeout=5) for _ in range(4)]

    with pytest.raises(asyncio.TimeoutError):
        await ws.receive_json(timeout=1.0)
    assert len({e["envelope_id"] for e in seen}) == 4 and socket.ack(key) is None
