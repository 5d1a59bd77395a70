"""Socket Mode: with SLACK_APP_TOKEN the bot takes requests over a websocket and acks there."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
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
from tests.support.socket_mode import Ack, FakeSocketMode

PAYLOAD = {
    "command": "/pim",
    "text": "help",
    "user_id": "U_ALINE",
    "team_id": "T_CONTOSO",
    "channel_id": "C_GENERAL",
    "api_app_id": "A_PIMBOT",
    "trigger_id": "t.1",
    "response_url": "http://127.0.0.1:9/unused",
}


@pytest.fixture
def socket_mode() -> Iterator[FakeSocketMode]:
    with FakeSocketMode() as socket:
        yield socket


async def slash_command_acked(socket: FakeSocketMode) -> Ack:
    """Once the bot is connected, Slack sends `/pim help`; the ack that came back."""
    await asyncio.to_thread(socket.wait_for_connections, 1, 15)
    key = await asyncio.to_thread(socket.send, "slash_commands", PAYLOAD)
    return await asyncio.to_thread(socket.wait_acked, key, 15)


@pytest.mark.slow
async def test_slash_command_over_socket_mode_is_acked_on_the_socket(
    socket_mode: FakeSocketMode, tmp_path: Path
) -> None:
    with FakeSlack(socket_mode=socket_mode) as slack:
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
            ack = await slash_command_acked(socket_mode)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await services.graph.aclose()

    assert ack.payload is not None and "/pim activate" in ack.payload["text"]
    (opened,) = slack.calls("apps.connections.open")
    assert opened.body == {}  # the app token travels in the Authorization header


async def test_run_socket_refuses_to_start_without_an_app_token(tmp_path: Path) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]

    with pytest.raises(ValueError, match="SLACK_APP_TOKEN"):
        await run_socket(settings, object())  # type: ignore[arg-type]


BLOCK = 1.5


def _acked_while_the_services_loop_is_blocked(socket: FakeSocketMode) -> float:
    """Slack sends `/pim help` while the services' loop (this one) is held by a long
    synchronous call; seconds from the send to the ack. Socket Mode serves on a loop of
    its own (handlers/app.py `serve_apart`): the ack does not wait for the block."""
    acked: list[float] = []

    def slack_sends() -> None:
        began = time.monotonic()
        key = socket.send("slash_commands", PAYLOAD)
        acked.append(socket.wait_acked(key, 15).at - began)

    sender = threading.Thread(target=slack_sends)
    sender.start()
    time.sleep(BLOCK)  # noqa: ASYNC251 - the point: this loop is held meanwhile
    sender.join(15)  # still holding it: an ack that needs this loop never comes
    assert acked, "no ack while the services' loop was held"
    return acked[0]


@pytest.mark.slow
async def test_socket_mode_serves_the_probes_and_metrics_on_pim_port(
    socket_mode: FakeSocketMode, tmp_path: Path
) -> None:
    """Kubernetes probes and Prometheus need a port even when Slack's requests come over
    the socket: /healthz, /readyz and /metrics, and nothing else, on PIM_PORT."""
    port = free_port()
    with FakeSlack(socket_mode=socket_mode) as slack:
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
            ack = await slash_command_acked(socket_mode)
            blocked_for = _acked_while_the_services_loop_is_blocked(socket_mode)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                alive, ready = await http.get("/healthz"), await http.get("/readyz")
                metrics = await http.get("/metrics")
                events = await http.post("/slack/events", content=b"{}")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await services.graph.aclose()

    assert ack.envelope_id
    assert blocked_for < BLOCK  # acked on the acks' own loop, not after the block
    assert alive.status_code == 200
    # Graph here is an address nothing answers on: not ready, and the body says why.
    assert ready.status_code == 503 and ready.json()["graph"].startswith("failing")
    assert ready.json()["database"] == "ok" and ready.json()["slack"] == "ok"
    assert metrics.status_code == 200 and "pimbot_approvals_waiting 0.0" in metrics.text
    assert events.status_code == 404  # Slack's requests come over the socket only
