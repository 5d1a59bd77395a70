"""Socket Mode with several replicas: each payload handled once, wherever it lands.

Slack sends each payload to one of the app's (up to 10) connections and sends it again,
possibly to another replica's connection, when no ack came within 3 s
(https://docs.slack.dev/apis/events-api/using-socket-mode#connections, #acknowledge).
A redelivery may come under a new `envelope_id`, so the key is what identifies the
payload itself: an event's `event_id` (kept across Slack's retries:
https://api.slack.com/apis/events-api#retries), a command's or an interaction's
`trigger_id` (one per user invocation). The claim itself is bot.service.deliveries'.
The key only decides "seen before"; who may do what is still decided from the store.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.metrics import Metrics
from bot.service.deliveries import Claim, Deliveries
from handlers import observe

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_ID = 150  # Slack's ids are far shorter; the table's key column holds 200 characters


def delivery_key(kind: str, payload: Any) -> str | None:
    """What identifies this payload across deliveries; None: nothing does (handled as is)."""
    if not isinstance(payload, dict):
        return None
    if kind == "events_api":
        found = payload.get("event_id")
    elif kind in ("slash_commands", "interactive"):
        found = payload.get("trigger_id")  # block_suggestion has none: options are reads
    else:
        found = None
    if not isinstance(found, str) or not found or len(found) > MAX_ID:
        return None
    return f"{kind}:{found}"


class OnceSocketModeHandler(AsyncSocketModeHandler):
    """Bolt's Socket Mode handler, claiming each payload's key before handling it."""

    def __init__(
        self,
        app: AsyncApp,
        app_token: str,
        *,
        deliveries: Deliveries,
        holder: str,
        now: Callable[[], datetime],
        metrics: Metrics | None = None,
    ) -> None:
        super().__init__(app, app_token)
        self._deliveries, self._holder, self._now = deliveries, holder, now
        self._metrics = metrics

    async def handle(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        started = time.perf_counter()
        key = delivery_key(req.type, req.payload)
        if key is None:
            await self._handle(client, req, started)
            return
        claim = await self._call(self._deliveries.claim, key, self._holder, self._now())
        if claim is Claim.BUSY:
            # Unacked on purpose: Slack sends it again, by when the claim has settled
            # (then it is only acked) or lapsed with a dead replica (then it is handled).
            log.info("socket delivery %s is being handled by another replica", key)
            return
        if claim is Claim.DONE:
            log.info("socket delivery %s was handled already: acked, not handled again", key)
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            self._acked(req, started)
            return
        await self._handle(client, req, started)
        await self._call(self._deliveries.settle, key)

    async def _handle(
        self, client: AsyncBaseSocketModeClient, req: SocketModeRequest, started: float
    ) -> None:
        """Bolt's handling, which returns once the ack went out on the socket: timed as
        `pimbot_ack_seconds` from the envelope's arrival (the claim included)."""
        await super().handle(client, req)  # type: ignore[arg-type]  # Bolt narrows it
        self._acked(req, started)

    def _acked(self, req: SocketModeRequest, started: float) -> None:
        if self._metrics is not None and isinstance(req.payload, dict):
            kind = observe.kind_of(req.payload)
            self._metrics.ack_seconds.labels(kind).observe(time.perf_counter() - started)

    async def _call(self, method: Callable[..., T], *args: Any) -> T:
        if self._deliveries.blocking:  # a database: off the loop that acks everything else
            return await asyncio.to_thread(method, *args)
        return method(*args)
