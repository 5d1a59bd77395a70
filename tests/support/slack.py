"""A recording fake of the Slack Web API over real HTTP, answering like Slack.

    with FakeSlack() as slack:
        AsyncWebClient(token="xoxb-test", base_url=slack.api_url)   # ".../api/"
        slack.response_url()          # a fresh response_url target
        slack.calls("chat.postMessage")
        slack.rate_limit("chat.postMessage", times=1)   # next call answers 429 ratelimited
        slack.refuse["C123"] = "not_in_channel"         # chat.* there: ok false, that error
        slack.pace_channels(per_second=1.0, burst=2)     # chat.postMessage paced per channel
    FakeSlack(socket_mode=FakeSocketMode())  # Socket Mode's side: tests/support/socket_mode.py
    FakeSlack(fast=True)   # one asyncio loop serving: for benchmarks (same answers)

Every call is recorded as (method, body) where body merges query, form and JSON fields.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bot.simulators.workspace.limits import MAX_BLOCKS, MAX_MESSAGE_BLOCKS_JSON, blocks_too_long
from tests.support.cast import SLACK_USERS
from tests.support.socket_mode import FakeSocketMode

# Slack's view of the cast: users.info answers from these.
PROFILES: dict[str, dict[str, Any]] = {
    p.slack_id: {
        "name": p.handle,
        "real_name": p.name,
        "tz": p.tz,
        "email": p.email,
        # the user object's own fields (https://api.slack.com/types/user)
        "user": {
            "deleted": not p.active,
            "is_bot": p.kind == "bot",
            "is_restricted": p.kind == "guest",
            "is_ultra_restricted": False,
            "is_email_confirmed": p.email_confirmed,
            "team_id": p.team or "T_CONTOSO",
        },
    }
    for p in SLACK_USERS
}


@dataclass(frozen=True)
class Call:
    """One request the fake answered: `method` is the API method or `response_url:<id>`."""

    method: str
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    limited: bool = False  # answered 429 ratelimited: nothing was delivered


class FakeSlack:
    """The fake server; a real ThreadingHTTPServer on 127.0.0.1, random port."""

    RETRY_AFTER = "1"  # seconds, in a 429's Retry-After header (`retry_after` until reset)

    def __init__(
        self,
        profiles: dict[str, dict[str, Any]] | None = None,
        *,
        socket_mode: FakeSocketMode | None = None,
        fast: bool = False,
    ) -> None:
        """`fast`: served by one asyncio loop in a thread (`_LoopServer`) instead of a
        thread per connection: the same answers (`serve`), several times the calls a
        second, for benchmarks that would otherwise measure this fake."""
        self.profiles = dict(PROFILES if profiles is None else profiles)
        # Socket Mode's side: apps.connections.open hands out its URLs.
        self.socket_mode = socket_mode
        self._calls: list[Call] = []
        self._limits: dict[str, int] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | _LoopServer
        if fast:
            self._server = _LoopServer(self)
            self._thread = threading.Thread(target=self._server.run, daemon=True)
        else:
            self._server = _Server(("127.0.0.1", 0), _handler_for(self))
            self._server.daemon_threads = True
            # serve_forever checks for shutdown() every poll_interval (0.5 s by default:
            # half a second per stack torn down).
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self.api_url = f"{self.url}/api/"
        self.retry_after = self.RETRY_AFTER
        # channel -> error: chat.* calls there answer as Slack does (HTTP 200, ok false).
        self.refuse: dict[str, str] = {}
        self._pacer: ChannelPacer | None = None
        self._waits = threading.local()  # per serving thread: the Retry-After to send

    def __enter__(self) -> FakeSlack:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        if isinstance(self._server, _LoopServer):
            self._thread.join(timeout=5)

    def response_url(self) -> str:
        return f"{self.url}/response/{next(self._ids)}"

    def calls(self, method: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def responses(self, response_url: str) -> list[dict[str, Any]]:
        """The bodies posted to one response_url, oldest first."""
        key = "response_url:" + response_url.rsplit("/", 1)[-1]
        return [c.body for c in self.calls(key)]

    def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        """Block until `count` calls of `method` arrived (the bot works after its ack)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.calls(method)
            if len(found) >= count:
                return found
            time.sleep(0.01)
        raise AssertionError(f"fake Slack saw {len(self.calls(method))} {method}, wanted {count}")

    def rate_limit(self, method: str, times: int = 1) -> None:
        with self._lock:
            self._limits[method] = times

    def pace_channels(self, per_second: float = 1.0, burst: int = 2) -> None:
        """From now on chat.postMessage is paced per channel as Slack documents it: "1 per
        second" per channel, "short bursts >1 allowed"
        (https://api.slack.com/docs/rate-limits); a post beyond that answers 429
        `ratelimited` with the seconds until the channel's next slot in `Retry-After`."""
        with self._lock:
            self._pacer = ChannelPacer(per_second, burst)

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._limits.clear()
            self.refuse.clear()
            self.retry_after = self.RETRY_AFTER
            self._pacer = None

    # -- answering -------------------------------------------------------------------

    def _record(self, method: str, body: dict[str, Any]) -> bool:
        """Record the call; True if it must be answered 429 ratelimited (its Retry-After:
        `retry_after`, or the channel's next slot, kept for this thread by `_wait`)."""
        with self._lock:
            left = self._limits.get(method, 0)
            wait: str | None = self.retry_after if left else None
            if left:
                self._limits[method] = left - 1
            elif self._pacer is not None and method == "chat.postMessage":
                wait = self._pacer.refuse(str(body.get("channel", "")), time.monotonic())
            self._calls.append(Call(method, body, limited=wait is not None))
            self._waits.value = wait
            return wait is not None

    def _wait(self) -> str:
        """The Retry-After of the 429 this thread is answering."""
        return getattr(self._waits, "value", None) or self.retry_after

    def answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        refused = self.refuse.get(str(body.get("channel", "")))
        if refused and method.startswith("chat."):
            return {"ok": False, "error": refused}
        handler = _METHODS.get(method)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        return handler(self, body)

    def serve(
        self, path: str, header: Callable[[str], str | None], raw: bytes
    ) -> tuple[int, bytes, str, dict[str, str] | None]:
        """One request, whichever server read it: (status, payload, content type, extra
        headers). Both servers answer through here, so they are equally strict."""
        parts = urlsplit(path)
        body: dict[str, Any] = dict(parse_qsl(parts.query))
        body.update(_read_body(raw, header("Content-Type")))
        if parts.path.startswith("/response/"):
            self._record("response_url:" + parts.path.rsplit("/", 1)[-1], body)
            return 200, b"ok", "text/plain", None
        method = parts.path.removeprefix("/api/")
        if method == "apps.connections.open" and self.socket_mode is not None:
            self._record(method, body)
            answer = self.socket_mode.open(header("Authorization"))
            return 200, json.dumps(answer).encode(), "application/json", None
        if self._record(method, body):
            payload = json.dumps({"ok": False, "error": "ratelimited"}).encode()
            return 429, payload, "application/json", {"Retry-After": self._wait()}
        # A body shorter than the limit cannot hold blocks longer than it: measured only
        # then (a burst's thousand DMs are not each serialised again).
        if method in _MESSAGES and len(raw) > MAX_MESSAGE_BLOCKS_JSON:
            blocks = body.get("blocks")
            if blocks_too_long(json.loads(blocks) if isinstance(blocks, str) else blocks):
                payload = json.dumps({"ok": False, "error": "msg_blocks_too_long"}).encode()
                return 200, payload, "application/json", None
        return 200, json.dumps(self.answer(method, body)).encode(), "application/json", None

    def _users_info(self, body: dict[str, Any]) -> dict[str, Any]:
        user_id = str(body.get("user", ""))
        profile = self.profiles.get(user_id)
        if profile is None:
            return {"ok": False, "error": "user_not_found"}
        fields = {"real_name": profile["real_name"], "display_name": profile["name"]}
        if profile.get("email"):
            fields["email"] = profile["email"]
        return {
            "ok": True,
            "user": {
                "id": user_id,
                "team_id": "T_CONTOSO",
                "name": profile["name"],
                "real_name": profile["real_name"],
                "tz": profile["tz"],
                "is_bot": False,
                "profile": fields,
                **profile.get("user", {}),
            },
        }

    def _message(self, body: dict[str, Any]) -> dict[str, Any]:
        blocks = body.get("blocks")
        blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
        if isinstance(blocks, list) and len(blocks) > MAX_BLOCKS["message"]:
            return {"ok": False, "error": "invalid_blocks"}
        channel = str(body.get("channel", ""))
        ts = f"{time.time():.6f}"
        return {"ok": True, "channel": channel, "ts": ts, "message": {"text": body.get("text")}}

    def _view(self, body: dict[str, Any]) -> dict[str, Any]:
        view = body.get("view")
        view = json.loads(view) if isinstance(view, str) else dict(view or {})
        view_id = str(body.get("view_id") or f"V{next(self._ids):08d}")
        return {"ok": True, "view": {**view, "id": view_id, "hash": f"h{time.time_ns()}"}}


class ChannelPacer:
    """A token bucket per channel: `burst` posts at once, then `per_second`. A refused
    post takes no token (Slack counts what it delivered)."""

    def __init__(self, per_second: float, burst: int) -> None:
        if per_second <= 0 or burst < 1:
            raise ValueError("a channel allows at least one post, at a positive rate")
        self.per_second, self.burst = per_second, float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}

    def refuse(self, channel: str, now: float) -> str | None:
        """None: the post goes through; else the whole seconds until the next slot."""
        tokens, then = self._buckets.get(channel, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.per_second)
        if tokens >= 1.0:
            self._buckets[channel] = (tokens - 1.0, now)
            return None
        self._buckets[channel] = (tokens, now)
        return str(max(1, math.ceil((1.0 - tokens) / self.per_second)))


_MESSAGES = frozenset({"chat.postMessage", "chat.update"})
_METHODS: dict[str, Any] = {
    "auth.test": lambda s, b: {
        "ok": True,
        "url": "https://contoso.slack.com/",
        "team": "Contoso",
        "user": "pimbot",
        "team_id": "T_CONTOSO",
        "user_id": "U_PIMBOT",
        "bot_id": "B_PIMBOT",
    },
    "users.info": FakeSlack._users_info,
    "conversations.open": lambda s, b: {"ok": True, "channel": {"id": "D_" + str(b.get("users"))}},
    "chat.postMessage": FakeSlack._message,
    "chat.update": FakeSlack._message,
    "chat.postEphemeral": lambda s, b: {"ok": True, "message_ts": f"{time.time():.6f}"},
    "views.open": FakeSlack._view,
    "views.update": FakeSlack._view,
    "views.publish": FakeSlack._view,
    "usergroups.users.list": lambda s, b: {"ok": True, "users": []},
    # Without `socket_mode` the app has Socket Mode off: refused (the HTTP handler
    # answers it from FakeSocketMode when there is one).
    "apps.connections.open": lambda s, b: {"ok": False, "error": "not_allowed"},
}


def _read_body(raw: bytes, content_type: str | None) -> dict[str, Any]:
    text = raw.decode()
    if not text:
        return {}
    if "json" in (content_type or ""):
        data = json.loads(text)
        return data if isinstance(data, dict) else {"_": data}
    return dict(parse_qsl(text))


def _handler_for(fake: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # Keep-alive, as Slack's API serves it: a client holding a session reuses its
        # connection (every answer carries a Content-Length).
        protocol_version = "HTTP/1.1"
        # Headers and body leave in two writes: with Nagle's algorithm on, the body
        # waits for the client's delayed ACK of the headers (about 40 ms on Linux), on
        # every answer of a kept-alive connection.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
            return None

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, payload, ctype, extra = fake.serve(self.path, self.headers.get, raw)
            self._send(status, payload, ctype, extra)

        def _send(
            self, status: int, payload: bytes, ctype: str, extra: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)

    return Handler


class _Server(ThreadingHTTPServer):
    """A client gone mid-connection (a bot process the test or bench killed) is not the
    fake's error: not printed as one."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionResetError | BrokenPipeError):
            return
        super().handle_error(request, client_address)


class _LoopServer:
    """HTTP/1.1 with keep-alive on one asyncio loop in the fake's thread: a request line,
    headers and a `Content-Length` body, answered through `FakeSlack.serve`. Stricter
    than the stdlib server where it differs: a body sent chunked, or a request it cannot
    read, is answered 400 and the connection closed (Slack's Web API clients send
    `Content-Length`)."""

    def __init__(self, fake: FakeSlack) -> None:
        self._fake = fake
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.server_address = self._sock.getsockname()
        self._loop = asyncio.new_event_loop()
        self._stopped = threading.Event()

    def run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._connection, sock=self._sock)
        )
        try:
            self._loop.run_forever()
        finally:
            server.close()
            self._loop.run_until_complete(server.wait_closed())
            self._loop.close()
            self._stopped.set()

    def shutdown(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)

    def server_close(self) -> None:
        self._stopped.wait(timeout=5)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """One request on a kept-alive connection; False once it is to be closed."""
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        verb, path, version = (lines[0].split(" ") + ["", "", ""])[:3]
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        length = headers.get("content-length", "0")
        if (
            verb not in {"GET", "POST"}
            or not version.startswith("HTTP/1.")
            or "transfer-encoding" in headers
            or not length.isdigit()
        ):
            writer.write(_http(400, b"bad request", "text/plain", {"Connection": "close"}))
            await writer.drain()
            return False
        raw = await reader.readexactly(int(length))
        status, payload, ctype, extra = self._fake.serve(
            path, lambda name: headers.get(name.lower()), raw
        )
        writer.write(_http(status, payload, ctype, extra))
        await writer.drain()
        return headers.get("connection", "").lower() != "close" and version == "HTTP/1.1"


_REASONS = {200: "OK", 400: "Bad Request", 429: "Too Many Requests"}


def _http(status: int, payload: bytes, ctype: str, extra: dict[str, str] | None) -> bytes:
    fields = {"Content-Type": ctype, "Content-Length": str(len(payload)), **(extra or {})}
    head = f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in fields.items())
    return (head + "\r\n").encode("latin-1") + payload
