"""Fakes for the Graph adapter tests: a fake timer, a routed
MockTransport that records every request, and the request-body schema check."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from bot.graph.auth import AccessToken, GraphAuth
from bot.graph.client import GraphClient
from bot.graph.retry import RetryPolicy
from tests.support.graph_schema import assert_graph_valid

REQUEST_TYPE = "microsoft.graph.unifiedRoleAssignmentScheduleRequest"
BASE = "https://graph.test"


def assert_request_valid(schema: dict[str, Any], body: dict[str, Any]) -> None:
    """Validate a body the bot sent against Graph's unifiedRoleAssignmentScheduleRequest."""
    assert_graph_valid(schema, REQUEST_TYPE, body)


@dataclass
class FakeTimer:
    """`sleep` that records delays and moves a fake monotonic clock instead of waiting."""

    now: float = 1000.0
    delays: list[float] = field(default_factory=list)

    async def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class Recorder:
    """A MockTransport handler that records requests and answers from a script."""

    handler: Handler
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def bodies(self, method: str = "POST") -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.method == method and r.content]


def scripted(*steps: httpx.Response | Exception) -> Handler:
    """Answer with each step in turn (raising exceptions), repeating the last one."""
    remaining = list(steps)

    def handle(request: httpx.Request) -> httpx.Response:
        step = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        if isinstance(step, Exception):
            raise step
        return step

    return handle


def envelope(
    status: int, code: str, message: str = "", request_id: str = "req-1", **headers: str
) -> httpx.Response:
    body = {"error": {"code": code, "message": message, "innerError": {"request-id": request_id}}}
    return httpx.Response(status, json=body, headers=headers)


def make_client(
    handler: Handler,
    *,
    timer: FakeTimer | None = None,
    retry: RetryPolicy | None = None,
    token: str = "t0k3n",  # noqa: S107 - a fake token
) -> GraphClient:
    """A GraphClient over a MockTransport, with a static token and no real sleeping."""
    timer = timer or FakeTimer()
    auth = GraphAuth(lambda *, force_refresh: AccessToken(token, 3600))
    http = httpx.AsyncClient(base_url=BASE, transport=httpx.MockTransport(handler), auth=auth)
    return GraphClient(
        http, retry=retry, sleep=timer.sleep, monotonic=timer.monotonic, rand=lambda: 0.5
    )
