"""The bot in HTTP mode over real sockets, wired to the sandbox tenant and the fake Slack.

Shared by the end-to-end tests and `python -m bench`:

    with BotStack(tmp_dir) as stack:
        stack.command("activate user-admin 5h …", user="U_ALINE")   # signed, like Slack
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import httpx
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.clock import OffsetClock
from bot.domain.requests import OPEN_STATES, RequestState
from bot.graph import RetryPolicy, build_graph
from bot.metrics import Metrics
from bot.service.ports import PimGraph
from bot.simulators.sandbox import (
    Faults,
    SandboxServer,
    SandboxTenant,
    create_app,
)
from bot.store import SqlStore
from bot.wiring import ManualTrigger, Services, build_services
from handlers.app import build_app, build_http_app
from handlers.outbox import READ_RETRIES, Pace, web_client
from handlers.people import SlackUserDirectory
from handlers.work import queue_of
from tests.support.outbox import notifier_for
from tests.support.payloads import block_actions
from tests.support.settings import BOT_TOKEN, SIGNING_SECRET, Identity, Policy, make_settings
from tests.support.signing import command_body, event_body, interaction_body, signed_headers
from tests.support.slack import FakeSlack

GRAPH_WRITES = "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests"


@dataclass
class Reply:
    """The bot's HTTP answer to one signed request, and when it arrived."""

    status: int
    body: dict[str, Any]
    text: str
    seconds: float
    response_url: str


class BotStack:
    """Sandbox tenant (TLS) + fake Slack + the bot's Starlette app, each on 127.0.0.1.

    `policy` is the pimbot.yml (default: the repository's; a dict is written to `tmp`),
    `identity="user"` runs the bot in signed-in-user mode (no application credential),
    `database_url` defaults to SQLite in `tmp`; `ready_cache_seconds`: how long /readyz
    reuses an answer (0: every probe checks afresh)."""

    def __init__(
        self,
        tmp: Path,
        *,
        policy: Policy = None,
        identity: Identity = "application",
        database_url: str | None = None,
        ready_cache_seconds: float = 0.0,
    ) -> None:
        self.tmp = tmp
        self.ready_cache_seconds = ready_cache_seconds
        self.policy = policy
        self.identity = identity
        self.database_url = database_url or f"sqlite:///{tmp / 'pimbot.db'}"
        self.clock = OffsetClock()
        self.tenant = SandboxTenant.from_seed(self.clock)
        self.faults = Faults()
        self.metrics = Metrics()  # this stack's own registry: several stacks share a process
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Self:
        stack = self._stack
        self.sandbox = stack.enter_context(
            SandboxServer(create_app(self.tenant, faults=self.faults), tls=True)
        )
        self.slack = stack.enter_context(self._fake_slack())
        self.settings = make_settings(
            self.tmp,
            sandbox=self.sandbox,
            slack_api_url=self.slack.api_url,
            policy=self.policy,
            identity="user" if self.identity == "user" else None,
            pim_database_url=self.database_url,
            pim_ready_cache_seconds=self.ready_cache_seconds,
        )
        self.services = self._services()
        self.bolt = build_app(
            self.settings, self.services.pimbot, dms=self.notifier, client=self.client
        )
        http_app = build_http_app(self.settings, self.services.pimbot, self.bolt, self.metrics)
        app = self._asgi(http_app)
        app.router.routes.insert(0, Route("/test/quiet", self._quiet, methods=["POST"]))
        app.router.routes.insert(0, Route("/test/stop", self._stop, methods=["POST"]))
        self.bot = stack.enter_context(SandboxServer(app, tls=False))
        self.http = stack.enter_context(httpx.Client(base_url=self.bot.url, timeout=30))
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            # On the bot's own loop, as `pimbot run` stops: the Graph and Slack sessions
            # belong to it (aiohttp's are reported unclosed otherwise).
            self.http.post("/test/stop")
        finally:
            self._stack.close()

    async def _stop(self, request: Request) -> JSONResponse:
        await self.services.aclose()
        return JSONResponse({"ok": True})

    def _fake_slack(self) -> FakeSlack:
        return FakeSlack()

    def _asgi(self, http_app: Starlette) -> Starlette:
        """The app the bot's server runs (a subclass may add test-only routes)."""
        return http_app

    def _pace(self) -> Pace:
        """Slack's pace would hold messages back between the quick tests of one stack,
        which read Slack right after each reply; pacing has tests of its own
        (tests/adapters/test_outbox.py), and a subclass may restore it."""
        return Pace(per_second=100.0, burst=100.0)

    def _client(self) -> AsyncWebClient:
        # As production builds it: the SDK's retry handlers (429, 5xx, connection errors).
        return web_client(BOT_TOKEN, self.slack.api_url)

    def _services(self) -> Services:
        """The services, with the one notifier (and its outbox courier) the app shares."""
        config = self.settings.policy()
        self.client = self._client()
        store = SqlStore.from_url(self.settings.pim_database_url, clock=self.clock)
        directory = SlackUserDirectory(
            web_client(BOT_TOKEN, self.slack.api_url, rate_limit_retries=READ_RETRIES)
        )
        self.notifier, self.courier = notifier_for(
            self.client, config, store, self.clock, self._pace(), profiles=directory
        )
        return build_services(
            self.settings,
            directory=directory,
            notifier=self.notifier,
            graph=self._graph(),
            store=store,
            scheduler=ManualTrigger(),
            clock=self.clock,
            config=config,
            background=(self.courier,),
            metrics=self.metrics,
        )

    def _graph(self) -> PimGraph | None:
        if self.identity == "user":
            return None  # the wiring's own: each call as the signed-in user it is for
        # RetryPolicy.fast(): ms backoff
        return build_graph(
            self.settings, retry=RetryPolicy.fast(), metrics=self.metrics, clock=self.clock
        )

    # -- talking to the bot like Slack --------------------------------------------------

    async def _quiet(self, request: Request) -> JSONResponse:
        """On the bot's loop: wait for the redraws and sends under way; answer how much
        work the queue still runs or holds."""
        pimbot = self.services.pimbot

        async def settled() -> None:
            await pimbot.homes.settled()
            if pimbot.board is not None:
                await pimbot.board.settled()
            await self.courier.sent()

        try:  # a send retrying Slack's 429s may take long: asked again, not waited out
            await asyncio.wait_for(settled(), 2.0)
        except TimeoutError:
            return JSONResponse({"busy": 1})
        queue = queue_of(self.bolt)
        busy = 0 if queue is None else queue.running + queue.waiting
        return JSONResponse({"busy": busy})

    def quiesce(self, timeout: float = 10.0) -> None:
        """Until what earlier requests started is over: no work queued or running, no
        redraw or send under way, and no new call to Slack, twice in a row. A test reads
        Slack's log after `reset` clears it; a card update or Home redraw of the test
        before, landing in it late, would pass for the next test's own."""
        deadline = time.monotonic() + timeout
        quiet, seen = 0, -1
        while quiet < 2 and time.monotonic() < deadline:
            busy = self.http.post("/test/quiet").json()["busy"]
            calls = len(self.slack.calls())
            quiet = quiet + 1 if busy == 0 and calls == seen else 0
            seen = calls
            time.sleep(0.03)

    def reset(self) -> None:
        """Back to the seeded tenant, no faults, empty call logs, once the bot is quiet;
        requests an earlier test left open are closed (one live request per person, role
        and scope), and its activations ended."""
        self.quiesce()
        store = self.services.store
        for record in store.list_requests(states=OPEN_STATES):
            waiting = record.state in (RequestState.REQUESTED, RequestState.PENDING_APPROVAL)
            closed = RequestState.CANCELLED if waiting else RequestState.FAILED
            store.transition(record.id, frozenset({record.state}), closed)
        # The tenant's reset ends every activation: so do their records (an extension
        # counts from its activation record's start and extensions).
        live = frozenset({RequestState.ACTIVE})
        for record in store.list_requests(states=live):
            store.transition(record.id, live, RequestState.ENDED)
        self.tenant.reset()
        self.faults.clear()
        self.faults.clear_log()
        self.slack.reset()

    def post(self, body: str, headers: dict[str, str], response_url: str = "") -> Reply:
        started = time.perf_counter()
        answer = self.http.post("/slack/events", content=body, headers=headers)
        seconds = time.perf_counter() - started
        try:
            parsed = answer.json() if answer.content else {}
        except json.JSONDecodeError:
            parsed = {}
        text = str(parsed.get("text", "")) if isinstance(parsed, dict) else ""
        return Reply(answer.status_code, parsed, text, seconds, response_url)

    def signed(self, body: str, **kw: Any) -> dict[str, str]:
        return signed_headers(SIGNING_SECRET, body, **kw)

    def command(self, text: str, *, user: str = "U_ALINE") -> Reply:
        url = self.slack.response_url()
        body = command_body(text, user_id=user, response_url=url)
        return self.post(body, self.signed(body), url)

    def interact(self, payload: dict[str, Any]) -> Reply:
        body = interaction_body(payload)
        return self.post(body, self.signed(body))

    def event(self, event: dict[str, Any]) -> Reply:
        body = event_body(event)
        return self.post(body, self.signed(body, content_type="application/json"))

    def click(
        self,
        user: str,
        action_id: str,
        value: str,
        *,
        channel: str = "C_PIM_APPROVALS",
        home: bool = False,
    ) -> str:
        """A signed block_actions click on a message in `channel` (or on the App Home);
        returns the click's response_url."""
        url = self.slack.response_url()
        payload = block_actions(
            user, action_id, value, response_url=None if home else url, channel=channel, home=home
        )
        reply = self.interact(payload)
        assert reply.status == 200, reply
        return url

    def said(self, url: str, timeout: float = 15.0) -> str:
        """The one ephemeral line the bot answered a click with, through its response_url."""
        (call,) = self.slack.wait_for("response_url:" + url.rsplit("/", 1)[-1], timeout=timeout)
        return str(call.body["text"])

    def dm(self, user: str, fragment: str, timeout: float = 15.0) -> dict[str, Any]:
        """The first DM to `user` containing `fragment`, once it has been sent."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.dms(user, fragment)
            if found:
                return found[0]
            time.sleep(0.02)
        raise AssertionError(f"no DM to {user} containing {fragment!r}")

    def dms(self, user: str, fragment: str) -> list[dict[str, Any]]:
        return [
            c.body
            for c in self.slack.calls("chat.postMessage")
            # a call answered 429 delivered nothing: it is sent again later
            if not c.limited and c.body["channel"] == f"D_{user}" and fragment in c.body["text"]
        ]

    def final(self, reply: Reply, timeout: float = 15.0) -> dict[str, Any]:
        """The answer that followed "Working on it…" through the response_url (a new
        ephemeral message: a command's ack cannot be replaced)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            posted = self.slack.responses(reply.response_url)
            if posted:
                return posted[-1]
            time.sleep(0.01)
        raise AssertionError(f"nothing was posted to {reply.response_url}")

    def card_updates(self, request_id: str, count: int = 1) -> list[dict[str, Any]]:
        """The first `count` redraws of the card of `request_id`, once sent."""
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            found = [
                c.body for c in self.slack.calls("chat.update") if request_id in json.dumps(c.body)
            ]
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"card of {request_id} was not redrawn")

    def graph_writes(self) -> int:
        return self.faults.count("POST", GRAPH_WRITES)

    def granted_writes(self) -> int:
        """Schedule requests Graph accepted: a duplicate it refused (400
        RoleAssignmentExists) changed nothing."""
        return len([c for c in self.faults.find("POST", GRAPH_WRITES) if 200 <= c.status < 300])
