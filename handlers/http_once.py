"""HTTP mode with several replicas: an Events API callback handled once, wherever it lands.

Slack sends an event again when no 2xx came within 3 s (or the answer was an error):
at once, after a minute, after five, each time with `X-Slack-Retry-Num` and
`X-Slack-Retry-Reason` and the same `event_id`
(https://api.slack.com/apis/events-api#retries, "Error handling" / "Graceful retries").
Behind a load balancer that resend may reach another replica, so the replica claims the
event's key in the table Socket Mode claims in (bot/service/deliveries.py, the same key
as handlers/socket_once.py) before Bolt sees it.

Slash commands and interactions are not in it: Slack does not resend them. It shows the
user a timeout error instead when no answer came within 3 s
(https://api.slack.com/interactivity/slash-commands#responding_basic_receipt,
https://api.slack.com/interactivity/handling#acknowledgment_response), and what a click
or a command changes is already decided once by the store's claims.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from starlette.responses import JSONResponse, Response

from bot.service.deliveries import Claim, Deliveries
from handlers.socket_once import delivery_key

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class HttpOnce:
    """The replicas' shared claims, for HTTP mode's event callbacks."""

    deliveries: Deliveries
    now: Callable[[], datetime]
    holder: str

    async def claim(self, body: bytes, content_type: str) -> tuple[str | None, Response | None]:
        """(the key to settle once acked, None) to handle the request; (None, answer) to
        answer it without handling: handled already (200), or another replica is on it
        right now (503: Slack sends it again in a minute, by when that replica has acked,
        or died and its claim has lapsed)."""
        key = event_key(body, content_type)
        if key is None:
            return None, None
        claim = await self._call(self.deliveries.claim, key, self.holder, self.now())
        if claim is Claim.MINE:
            return key, None
        if claim is Claim.DONE:
            log.info("event %s was handled already: acked, not handled again", key)
            return None, Response(status_code=200)
        log.info("event %s is being handled by another replica: Slack sends it again", key)
        return None, JSONResponse({"error": "being handled by another replica"}, 503)

    async def settle(self, key: str) -> None:
        await self._call(self.deliveries.settle, key)

    async def _call(self, method: Callable[..., T], *args: Any) -> T:
        if self.deliveries.blocking:  # a database: off the loop that acks everything else
            return await asyncio.to_thread(method, *args)
        return method(*args)


def event_key(body: bytes, content_type: str) -> str | None:
    """An event callback's key (its `event_id`); None for anything else."""
    if not content_type.startswith("application/json"):
        return None  # commands and interactions are forms: Slack does not resend them
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    if not isinstance(payload, dict) or payload.get("type") != "event_callback":
        return None  # url_verification and the like: nothing to act on twice
    return delivery_key("events_api", payload)
