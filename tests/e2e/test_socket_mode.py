"""Socket Mode: with SLACK_APP_TOKEN the bot takes requests over a websocket and acks there."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import WSMsgType, web
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings
from bot.simulators.sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_TENANT_ID
from bot.store import SqlStore
from bot.wiring import ManualTrigger, build_services
from handlers.app import build_app, run_socket, run_socket_and_ops
from handlers.people import SlackUserDirectory
from tests.support.outbox import notifier_for
from tests.support.processes import free_port
from tests.support.settings import make_settings
from tests.support.slack import FakeSlack


class FakeSocketModeServer:
    """Slack's side of a Socket Mode connection: says hello, sends envelopes, collects acks."""

    def __init__(self, envelopes: list[dict[str, Any]]) -> None:
        self.envelopes = envelopes
        self.acks: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.url = ""
        self.sockets: list[web.WebSocketResponse] = []

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1}))
        for envelope in self.envelopes:
            await ws.send_str(json.dumps(envelope))
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await self.acks.put(json.loads(msg.data))
        return ws


@pytest.fixture
async def socket_server() -> AsyncIterator[FakeSocketModeServer]:
    payload = {
        "command": "/pim",
        "text": "help",
        "user_id": "U_ALINE",
        "team_id": "T_CONTOSO",
        "channel_id": "C_GENERAL",
        "api_app_id": "A_PIMBOT",
        "trigger_id": "t.1",
        "response_url": "http://127.0.0.1:9/unused",
    }
    server = FakeSocketModeServer(
        [
            {
                "envelope_id": "env-1",
                "type": "slash_commands",
                "payload": payload,
                "accepts_response_payload": True,
            }
        ]
    )
    app = web.Application()
    app.router.add_get("/link", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.url = f"ws://127.0.0.1:{port}/link"
    yield server
    await runner.cleanup()


@pytest.mark.slow
async def test_slash_command_over_socket_mode_is_acked_on_the_socket(
    socket_server: FakeSocketModeServer, tmp_path: Path
) -> None:
    with FakeSlack() as slack:
        slack.socket_url = socket_server.url
        settings = make_settings(
            slack_api_url=slack.api_url,
            slack_bot_token="xoxb-socket",
            slack_app_token="xapp-socket",
            azure_tenant_id=SANDBOX_TENANT_ID,
            azure_client_id=SANDBOX_CLIENT_ID,
            azure_client_secret=SANDBOX_CLIENT_SECRET,
            azure_authority_host="https://127.0.0.1:9",
            pim_graph_url="https://127.0.0.1:9",
        )
        client = AsyncWebClient(token="xoxb-socket", base_url=slack.api_url)
        config = settings.policy()
        store = SqlStore.from_url(f"sqlite:///{tmp_path / 's.db'}")
        notifier, _courier = notifier_for(client, config, store)
        services = build_services(
            settings,
            directory=SlackUserDirectory(client),
            notifier=notifier,
            store=store,
            scheduler=ManualTrigger(),
            config=config,
        )
        task = asyncio.create_task(
            run_socket(settings, build_app(settings, services.pimbot, dms=notifier, client=client))
        )
        try:
            ack = await asyncio.wait_for(socket_server.acks.get(), timeout=15)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await services.graph.aclose()

    assert ack["envelope_id"] == "env-1"
    assert "/pim activate" in ack["payload"]["text"]
    (opened,) = slack.calls("apps.connections.open")
    assert opened.body == {}  # the app token travels in the Authorization header


async def test_run_socket_refuses_to_start_without_an_app_token(tmp_path: Path) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]

    with pytest.raises(ValueError, match="SLACK_APP_TOKEN"):
        await run_socket(settings, object())  # type: ignore[arg-type]


@pytest.mark.slow
async def test_socket_mode_serves_the_probes_and_metrics_on_pim_port(
    socket_server: FakeSocketModeServer, tmp_path: Path
) -> None:
    """Kubernetes probes and Prometheus need a port even when Slack's requests come over
    the socket: /healthz, /readyz and /metrics, and nothing else, on PIM_PORT."""
    port = free_port()
    with FakeSlack() as slack:
        slack.socket_url = socket_server.url
        settings = make_settings(
            slack_api_url=slack.api_url,
            slack_bot_token="xoxb-socket",
            slack_app_token="xapp-socket",
            azure_tenant_id=SANDBOX_TENANT_ID,
            azure_client_id=SANDBOX_CLIENT_ID,
            azure_client_secret=SANDBOX_CLIENT_SECRET,
            azure_authority_host="https://127.0.0.1:9",
            pim_graph_url="https://127.0.0.1:9",
        )
        client = AsyncWebClient(token="xoxb-socket", base_url=slack.api_url)
        config = settings.policy()
        store = SqlStore.from_url(f"sqlite:///{tmp_path / 's.db'}")
        notifier, _courier = notifier_for(client, config, store)
        services = build_services(
            settings,
            directory=SlackUserDirectory(client),
            notifier=notifier,
            store=store,
            scheduler=ManualTrigger(),
            config=config,
        )
        bolt = build_app(settings, services.pimbot, dms=notifier, client=client)
        task = asyncio.create_task(
            run_socket_and_ops(settings, services.pimbot, bolt, port=port, metrics=services.metrics)
        )
        try:
            ack = await asyncio.wait_for(socket_server.acks.get(), timeout=15)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                alive, ready = await http.get("/healthz"), await http.get("/readyz")
                metrics = await http.get("/metrics")
                events = await http.post("/slack/events", content=b"{}")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await services.graph.aclose()

    assert ack["envelope_id"] == "env-1"
    assert alive.status_code == 200
    # Graph here is an address nothing answers on: not ready, and the body says why.
    assert ready.status_code == 503 and ready.json()["graph"].startswith("failing")
    assert ready.json()["database"] == "ok" and ready.json()["slack"] == "ok"
    assert metrics.status_code == 200 and "pimbot_approvals_waiting 0.0" in metrics.text
    assert events.status_code == 404  # Slack's requests come over the socket only
