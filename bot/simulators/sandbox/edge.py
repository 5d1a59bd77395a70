"""Outermost ASGI layer: request ids, the call log, and fault injection."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.clock import Clock
from bot.simulators.sandbox.faults import CallRecord, FaultRule, Faults
from bot.simulators.sandbox.responses import error_body

CONTROL_PREFIX = "/sandbox/"
_ERROR_CODES = {
    429: "TooManyRequests",
    500: "generalException",
    502: "badGateway",
    503: "serviceNotAvailable",
    504: "gatewayTimeout",
}


class GraphEdge:
    """Wraps the app: every answer gets `request-id`; calls outside /sandbox/ are logged
    and subject to the fault rules."""

    def __init__(
        self,
        app: ASGIApp,
        faults: Faults,
        clock: Clock,
        caller_of: Callable[[Mapping[str, str], Any], str | None] = lambda _h, _b: None,
    ) -> None:
        self.app = app
        self.faults = faults
        self.clock = clock
        self.caller_of = caller_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        client_request_id = headers.get("client-request-id")
        raw = await _read_body(receive)
        method, path = scope["method"], scope["path"]
        control = path.startswith(CONTROL_PREFIX)
        rules = [] if control else self.faults.take(method, path)
        for rule in rules:
            if rule.kind == "latency":
                await asyncio.sleep(rule.seconds)
        out = _Captured(request_id, client_request_id)

        async def replay() -> Message:
            return {"type": "http.request", "body": raw, "more_body": False}

        def log(status: int, body: Any) -> None:
            if not control:
                sent = _decode_request(raw, headers)
                self.faults.record(
                    CallRecord(
                        method,
                        path,
                        scope.get("query_string", b"").decode(),
                        status,
                        sent,
                        body,
                        request_id,
                        tuple(r.kind for r in rules),
                        self.caller_of(headers, sent),
                        self.clock.now(),
                        client_request_id,
                    )
                )

        failing = next((r for r in rules if r.kind == "status"), None)
        if failing is not None:
            await self._send_failure(failing, out, send)
            log(out.status, out.json())
            return
        if any(r.kind == "drop" for r in rules):
            log(0, None)
            _drop_connection(receive)
            return
        losing = next((r for r in rules if r.kind == "lose_response"), None)
        if losing is None:
            # Logged before the client sees the answer: a test that waits for the bot's
            # reaction then finds the call in the log, never a moment too early.
            await self.app(scope, replay, out.capturing())
            log(out.status, out.json())
            await out.flush(send)
            return
        await self.app(scope, replay, out.capturing())  # the write happens...
        log(0, out.json())
        await asyncio.sleep(losing.seconds)
        if losing.deliver:
            await out.flush(send)  # ...and its answer arrives too late
        else:
            _drop_connection(receive)  # ...and its answer never arrives

    async def _send_failure(self, rule: FaultRule, out: _Captured, send: Send) -> None:
        status = rule.status or 503
        code = _ERROR_CODES.get(status, "generalException")
        body = error_body(
            code,
            "Injected by the sandbox fault rules.",
            out.request_id,
            out.client_request_id,
            self.clock,
        )
        extra = [(b"content-type", b"application/json")]
        if rule.retry_after is not None:
            # Graph sends whole seconds; a fraction is allowed so tests can stay fast.
            extra.append((b"retry-after", f"{rule.retry_after:g}".encode()))
        sink = out.forwarding(send)
        await sink({"type": "http.response.start", "status": status, "headers": extra})
        await sink({"type": "http.response.body", "body": json.dumps(body).encode()})


class _Captured:
    """Adds Graph's id headers to the response and keeps a copy for the log."""

    def __init__(self, request_id: str, client_request_id: str | None) -> None:
        self.request_id = request_id
        self.client_request_id = client_request_id
        self.status = 0
        self.chunks: list[bytes] = []
        self.messages: list[Message] = []

    def _stamp(self, message: Message) -> Message:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            extra = [
                (b"request-id", self.request_id.encode()),
                (b"client-request-id", (self.client_request_id or self.request_id).encode()),
            ]
            message = {**message, "headers": list(message.get("headers", [])) + extra}
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))
        return message

    def forwarding(self, send: Send) -> Send:
        async def sink(message: Message) -> None:
            await send(self._stamp(message))

        return sink

    def capturing(self) -> Send:
        async def sink(message: Message) -> None:
            self.messages.append(self._stamp(message))

        return sink

    async def flush(self, send: Send) -> None:
        for message in self.messages:
            await send(message)

    def json(self) -> Any:
        raw = b"".join(self.chunks)
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode(errors="replace")


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _decode_request(raw: bytes, headers: dict[str, str]) -> Any:
    if not raw:
        return None
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = dict(parse_qsl(raw.decode()))
        return {k: ("***" if "secret" in k or "assertion" in k else v) for k, v in form.items()}
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def _drop_connection(receive: Receive) -> None:
    """Close the socket without a response: the client sees a transport error.

    Under uvicorn, `receive` is bound to its request cycle, which holds the transport;
    aborting it resets the TCP/TLS connection, and marking the cycle disconnected stops
    uvicorn from writing its own 500 afterwards. In process (httpx.ASGITransport) there
    is no socket, so raise the error httpx would have raised.
    """
    cycle = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if cycle is None or transport is None:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
    cycle.disconnected = True
    transport.abort()
