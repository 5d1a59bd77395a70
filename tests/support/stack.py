"""The bot in HTTP mode over real sockets, wired to the sandbox tenant and the fake Slack.

Shared by the end-to-end tests and `python -m bench`:

    with BotStack(tmp_dir) as stack:
        stack.command("activate user-admin 5h …", user="U_ALINE")   # signed, like Slack
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import OffsetClock
from bot.graph import RetryPolicy, build_graph
from bot.service.ports import PimGraph
from bot.settings import Settings
from bot.simulators.sandbox import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_TENANT_ID,
    Faults,
    SandboxServer,
    SandboxTenant,
    create_app,
)
from bot.store import SqlStore
from bot.wiring import ManualTrigger, Services, build_services
from handlers.app import build_app, build_http_app
from handlers.notify import SlackNotifier, SlackUserDirectory
from tests.support.signing import command_body, event_body, interaction_body, signed_headers
from tests.support.slack import FakeSlack

ROOT = Path(__file__).resolve().parents[2]
SIGNING_SECRET = "e2e-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-e2e-test-token"
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
    """Sandbox tenant (TLS) + fake Slack + the bot's Starlette app, each on 127.0.0.1."""

    def __init__(self, tmp: Path, *, identity: str = "application") -> None:
        self.tmp = tmp
        self.identity = identity  # "user": signed-in-user mode, no application credential
        self.clock = OffsetClock()
        self.tenant = SandboxTenant.from_seed(self.clock)
        self.faults = Faults()
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> BotStack:
        stack = self._stack
        self.sandbox = stack.enter_context(
            SandboxServer(create_app(self.tenant, faults=self.faults), tls=True)
        )
        self.slack = stack.enter_context(FakeSlack())
        self.settings = self._settings()
        self.services = self._services()
        bolt = build_app(self.settings, self.services, client=self._client())
        http_app = build_http_app(self.settings, self.services, bolt)
        self.bot = stack.enter_context(SandboxServer(http_app, tls=False))  # any ASGI app
        self.http = stack.enter_context(httpx.Client(base_url=self.bot.url, timeout=30))
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _settings(self) -> Settings:
        if self.identity == "user":  # a public client: no secret, a key for users' tokens
            config = self.tmp / "pimbot-user.yml"
            config.write_text((ROOT / "pimbot.yml").read_text() + "graph:\n  identity: user\n")
            return self._common_settings(
                pim_config=config,
                pim_database_url=f"sqlite:///{self.tmp / 'pimbot-user.db'}",
                pim_token_key=Fernet.generate_key().decode(),
            )
        return self._common_settings(azure_client_secret=SANDBOX_CLIENT_SECRET)

    def _common_settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "slack_bot_token": BOT_TOKEN,
            "slack_signing_secret": SIGNING_SECRET,
            "slack_api_url": self.slack.api_url,
            "azure_tenant_id": SANDBOX_TENANT_ID,
            "azure_client_id": SANDBOX_CLIENT_ID,
            "azure_authority_host": self.sandbox.url,
            "pim_graph_url": self.sandbox.url,
            "pim_ca_file": self.sandbox.ca_file,
            "pim_database_url": f"sqlite:///{self.tmp / 'pimbot.db'}",
            "pim_config": ROOT / "pimbot.yml",
        }
        return Settings(_env_file=None, **{**values, **overrides})

    def _client(self) -> AsyncWebClient:
        return AsyncWebClient(token=BOT_TOKEN, base_url=self.slack.api_url)

    def _services(self) -> Services:
        config = self.settings.policy()
        client = self._client()
        return build_services(
            self.settings,
            directory=SlackUserDirectory(client),
            notifier=SlackNotifier(client, config),
            graph=self._graph(),
            store=SqlStore.from_url(self.settings.pim_database_url, clock=self.clock),
            scheduler=ManualTrigger(),
            clock=self.clock,
            config=config,
        )

    def _graph(self) -> PimGraph | None:
        if self.identity == "user":
            return None  # the wiring's own: each call as the signed-in user it is for
        return build_graph(self.settings, retry=RetryPolicy.fast())  # ms backoff

    # -- talking to the bot like Slack --------------------------------------------------

    def reset(self) -> None:
        """Back to the seeded tenant, no faults, empty call logs."""
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

    def final(self, reply: Reply, timeout: float = 15.0) -> dict[str, Any]:
        """The message that replaced "Working on it…" through the response_url."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            posted = self.slack.responses(reply.response_url)
            if posted:
                return posted[-1]
            time.sleep(0.01)
        raise AssertionError(f"nothing was posted to {reply.response_url}")

    def graph_writes(self) -> int:
        return self.faults.count("POST", GRAPH_WRITES)
