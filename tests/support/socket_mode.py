"""Slack's side of Socket Mode for tests: several connections, each envelope to one of
them, redelivery of what is not acked in time, at most 10 connections per app.

    with FakeSocketMode() as socket, FakeSlack(socket_mode=socket) as slack:
        # apps.connections.open (Bearer xapp-…) hands out a one-time wss URL per call
        socket.wait_for_connections(3)
        key = socket.send("slash_commands", payload)   # to one connection, round robin
        socket.wait_acked(key)                         # the ack that settled it

What it models, from https://docs.slack.dev/apis/events-api/using-socket-mode (formerly
https://api.slack.com/apis/socket-mode): an app keeps "up to 10" connections open at once;
"each payload may be sent to any of the connections" (here: round robin over the open
ones, so a test sees them spread); each envelope carries an `envelope_id` the app acks
with, "so that Slack knows whether to retry" — Slack support on an unacked envelope:
"we don't get the expected envelope_id within 3 seconds, and end up retrying your
requests" (https://github.com/slackapi/python-slack-sdk/issues/1280). A connection past
the tenth is told `{"type": "disconnect", "reason": "too_many_websockets"}` (the reason
slack_sdk's socket_mode/aiohttp client and node-slack-sdk's socket-mode handle) and closed.

Where Slack's behaviour is not documented, this fake is the stricter reading: every kind
of envelope (events, slash commands, interactions) is redelivered when not acked within
`ack_timeout`, up to `max_retries` times like the Events API, preferably to another
connection, each time under a new `envelope_id` (an app cannot rely on the id to spot a
redelivery); an events_api redelivery carries `retry_attempt` and `retry_reason`, which
slack_sdk's SocketModeRequest reads. A wss URL works once, and an ack counts only on the
connection its envelope came on. Not modelled: Slack's `disconnect` warnings and
refreshes (`refresh_requested`) of a live connection.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web


@dataclass
class Delivery:
    """One envelope sent: which logical message, on which connection, which attempt."""

    key: str
    envelope_id: str
    connection: int
    attempt: int
    at: float


@dataclass
class Ack:
    envelope_id: str
    connection: int
    payload: dict[str, Any] | None
    at: float = field(default_factory=time.monotonic)  # when it reached "Slack"


@dataclass
class _Message:
    key: str
    type: str
    payload: dict[str, Any]
    accepts_response_payload: bool
    deliveries: list[Delivery] = field(default_factory=list)
    ack: Ack | None = None


class FakeSocketMode:
    MAX_CONNECTIONS = 10  # "up to 10 open WebSocket connections at the same time"

    def __init__(self, *, ack_timeout: float = 3.0, max_retries: int = 3) -> None:
        self.ack_timeout, self.max_retries = ack_timeout, max_retries
        self._lock = threading.Lock()
        self._tickets: set[str] = set()
        self._open: dict[int, web.WebSocketResponse] = {}
        self._ids = itertools.count(1)
        self._turn = itertools.count()
        self._messages: dict[str, _Message] = {}
        self._by_envelope: dict[str, _Message] = {}
        self.refused = 0  # connections told too_many_websockets
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.url = ""

    # -- life ------------------------------------------------------------------------

    def __enter__(self) -> FakeSocketMode:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/link/", self._connect)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"ws://127.0.0.1:{port}"
        self._redeliverer = asyncio.ensure_future(self._redeliver_forever())

    async def _stop(self) -> None:
        self._redeliverer.cancel()
        for ws in list(self._open.values()):
            await ws.close()
        await self._runner.cleanup()

    # -- apps.connections.open ---------------------------------------------------------

    def open(self, authorization: str | None) -> dict[str, Any]:
        """apps.connections.open: an app-level token in the Authorization header (not a
        parameter: https://docs.slack.dev/apis/events-api/using-socket-mode#call) gets a
        fresh one-time URL."""
        token = (authorization or "").removeprefix("Bearer ").strip()
        if not token:
            return {"ok": False, "error": "not_authed"}
        if not token.startswith("xapp-"):
            return {"ok": False, "error": "not_allowed_token_type"}
        ticket = uuid.uuid4().hex
        with self._lock:
            self._tickets.add(ticket)
        return {"ok": True, "url": f"{self.url}/link/?ticket={ticket}"}

    async def _connect(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        with self._lock:
            known = ticket in self._tickets
            self._tickets.discard(ticket)
        if not known:
            return web.Response(status=401, text="invalid ticket")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        if len(self.connections()) >= self.MAX_CONNECTIONS:
            self.refused += 1
            await ws.send_json({"type": "disconnect", "reason": "too_many_websockets"})
            await ws.close()
            return ws
        number = next(self._ids)
        with self._lock:
            self._open[number] = ws
            count = len(self._open)
        try:
            await ws.send_json(_hello(count))
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._acked(number, json.loads(msg.data))
        finally:
            with self._lock:
                self._open.pop(number, None)
        return ws

    # -- envelopes ---------------------------------------------------------------------

    def send(
        self, type_: str, payload: dict[str, Any], *, accepts_response_payload: bool = True
    ) -> str:
        """Queue one payload as Slack would send it; returns its key for `acks`/`deliveries`."""
        message = _Message(uuid.uuid4().hex, type_, payload, accepts_response_payload)
        with self._lock:
            self._messages[message.key] = message
        asyncio.run_coroutine_threadsafe(self._deliver(message), self._loop).result(10)
        return message.key

    async def _deliver(self, message: _Message) -> None:
        last = message.deliveries[-1].connection if message.deliveries else None
        open_now = self.connections()
        choices = [n for n in open_now if n != last] or open_now
        if not choices:
            return  # nobody connected: tried again by the redelivery loop
        number = choices[next(self._turn) % len(choices)]
        attempt = len(message.deliveries)
        envelope_id = str(uuid.uuid4())
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": message.type,
            "payload": message.payload,
            "accepts_response_payload": message.accepts_response_payload,
        }
        if message.type == "events_api":
            envelope.update(retry_attempt=attempt, retry_reason="timeout" if attempt else "")
        delivery = Delivery(message.key, envelope_id, number, attempt, time.monotonic())
        with self._lock:
            message.deliveries.append(delivery)
            self._by_envelope[delivery.envelope_id] = message
        try:
            await self._open[number].send_json(envelope)
        except (ConnectionError, KeyError, RuntimeError):
            pass  # the connection went away: unacked, so redelivered after ack_timeout

    async def _redeliver_forever(self) -> None:
        while True:
            await asyncio.sleep(0.05)
            now = time.monotonic()
            for message in list(self._messages.values()):
                if message.ack is not None or len(message.deliveries) > self.max_retries:
                    continue
                if not message.deliveries or now - message.deliveries[-1].at >= self.ack_timeout:
                    await self._deliver(message)

    def _acked(self, connection: int, data: dict[str, Any]) -> None:
        envelope_id = str(data.get("envelope_id", ""))
        with self._lock:
            message = self._by_envelope.get(envelope_id)
            if message is None or message.ack is not None:
                return  # an unknown envelope, or a late ack of one already settled
            mine = next(d for d in message.deliveries if d.envelope_id == envelope_id)
            if mine.connection != connection:
                return  # an envelope is acked on the connection it came on
            message.ack = Ack(envelope_id, connection, data.get("payload"))

    # -- what the test reads -------------------------------------------------------------

    def connections(self) -> list[int]:
        with self._lock:
            return sorted(self._open)

    def deliveries(self, key: str | None = None) -> list[Delivery]:
        with self._lock:
            return [
                d
                for m in self._messages.values()
                if key is None or m.key == key
                for d in m.deliveries
            ]

    def payload(self, key: str) -> dict[str, Any]:
        """What was sent under `key` (to send it again, as a redelivery would)."""
        with self._lock:
            return dict(self._messages[key].payload)

    def ack(self, key: str) -> Ack | None:
        with self._lock:
            return self._messages[key].ack

    def wait_for_connections(self, count: int, timeout: float = 60) -> list[int]:
        deadline = time.monotonic() + timeout
        while len(self.connections()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.connections()} Socket Mode connections, wanted {count}"
                )
            time.sleep(0.05)
        return self.connections()

    def wait_acked(self, key: str, timeout: float = 30) -> Ack:
        deadline = time.monotonic() + timeout
        while (ack := self.ack(key)) is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"not acked: {self.deliveries(key)}")
            time.sleep(0.02)
        return ack


def _hello(connections: int) -> dict[str, Any]:
    # https://docs.slack.dev/apis/events-api/using-socket-mode#connect
    return {
        "type": "hello",
        "num_connections": connections,
        "connection_info": {"app_id": "A_PIMBOT"},
        "debug_info": {"host": "fake-applink", "approximate_connection_time": 18060},
    }
