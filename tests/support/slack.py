"""A recording fake of the Slack Web API over real HTTP, answering like Slack.

    with FakeSlack() as slack:
        AsyncWebClient(token="xoxb-test", base_url=slack.api_url)   # ".../api/"
        slack.response_url()          # a fresh response_url target
        slack.calls("chat.postMessage")
        slack.rate_limit("chat.postMessage", times=1)   # next call answers 429 ratelimited
        slack.refuse["C123"] = "not_in_channel"         # chat.* there: ok false, that error

Every call is recorded as (method, body) where body merges query, form and JSON fields.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.support.cast import SLACK_USERS

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

    def __init__(self, profiles: dict[str, dict[str, Any]] | None = None) -> None:
        self.profiles = dict(PROFILES if profiles is None else profiles)
        self._calls: list[Call] = []
        self._limits: dict[str, int] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        # serve_forever checks for shutdown() every poll_interval (0.5 s by default: half a
        # second per stack torn down).
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self.api_url = f"{self.url}/api/"
        self.socket_url: str | None = None  # what apps.connections.open hands out
        self.retry_after = self.RETRY_AFTER
        # channel -> error: chat.* calls there answer as Slack does (HTTP 200, ok false).
        self.refuse: dict[str, str] = {}

    def __enter__(self) -> FakeSlack:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

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

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._limits.clear()
            self.refuse.clear()
            self.retry_after = self.RETRY_AFTER

    # -- answering -------------------------------------------------------------------

    def _record(self, method: str, body: dict[str, Any]) -> bool:
        """Record the call; True if it must be answered 429 ratelimited."""
        with self._lock:
            left = self._limits.get(method, 0)
            self._calls.append(Call(method, body, limited=left > 0))
            if left:
                self._limits[method] = left - 1
            return left > 0

    def answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        refused = self.refuse.get(str(body.get("channel", "")))
        if refused and method.startswith("chat."):
            return {"ok": False, "error": refused}
        handler = _METHODS.get(method)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        return handler(self, body)

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
        channel = str(body.get("channel", ""))
        ts = f"{time.time():.6f}"
        return {"ok": True, "channel": channel, "ts": ts, "message": {"text": body.get("text")}}

    def _view(self, body: dict[str, Any]) -> dict[str, Any]:
        view = body.get("view")
        view = json.loads(view) if isinstance(view, str) else dict(view or {})
        view_id = str(body.get("view_id") or f"V{next(self._ids):08d}")
        return {"ok": True, "view": {**view, "id": view_id, "hash": f"h{time.time_ns()}"}}


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
    "apps.connections.open": lambda s, b: (
        {"ok": True, "url": s.socket_url} if s.socket_url else {"ok": False, "error": "not_allowed"}
    ),
}


def _handler_for(fake: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
            return None

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            body: dict[str, Any] = dict(parse_qsl(parts.query))
            body.update(self._read_body())
            if parts.path.startswith("/response/"):
                fake._record("response_url:" + parts.path.rsplit("/", 1)[-1], body)
                self._send(200, b"ok", "text/plain")
                return
            method = parts.path.removeprefix("/api/")
            if fake._record(method, body):
                payload = json.dumps({"ok": False, "error": "ratelimited"}).encode()
                self._send(429, payload, "application/json", {"Retry-After": fake.retry_after})
                return
            payload = json.dumps(fake.answer(method, body)).encode()
            self._send(200, payload, "application/json")

        def _read_body(self) -> dict[str, Any]:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            if not raw:
                return {}
            if "json" in (self.headers.get("Content-Type") or ""):
                data = json.loads(raw)
                return data if isinstance(data, dict) else {"_": data}
            return dict(parse_qsl(raw))

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
