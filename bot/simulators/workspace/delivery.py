"""Deliver requests to the bot's events URL, signed as Slack signs them, and read the ack.

Slack waits 3 seconds for the ack. For a slash command or an interaction it then tells the
user the app did not respond ("operation_timeout") and never resends it (the request was
the user's; slackapi/node-slack-sdk#2095, integrations/slack#352). An Events API callback
is retried instead, up to 3 times, immediately then after 1 and 5 minutes, each retry
carrying `X-Slack-Retry-Num` and `X-Slack-Retry-Reason` (`http_timeout`,
`connection_failed`, `http_error`), unless the app answered an error with
`X-Slack-No-Retry: 1` (https://api.slack.com/apis/connections/events-api#retries). We do
the same, so a slow listener shows up here as it would in production."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

ACK_TIMEOUT = 3.0
EVENT_RETRY_DELAYS = (0.0, 60.0, 300.0)  # seconds before each retry of an event
log = logging.getLogger(__name__)


def sign(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """Slack's v0 request signature headers for `body` sent at `timestamp`."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": f"v0={digest}"}


@dataclass(frozen=True)
class Ack:
    """The bot's answer: `error` is Slack's word for a failed delivery (None when fine)."""

    body: dict[str, Any]
    error: str | None = None
    retry_reason: str | None = None  # why Slack would resend an event (None: it would not)


class BotLink:
    def __init__(self, events_url: str, signing_secret: str) -> None:
        self.events_url, self._secret = events_url, signing_secret
        self.ack_timeout = ACK_TIMEOUT
        self.event_retry_delays = EVENT_RETRY_DELAYS
        self._retries: set[asyncio.Task[None]] = set()  # held so they are not collected

    async def form(self, fields: dict[str, str]) -> Ack:
        return await self._send(urlencode(fields).encode(), "application/x-www-form-urlencoded")

    async def interaction(self, payload: dict[str, Any]) -> Ack:
        return await self.form({"payload": json.dumps(payload)})

    async def event(self, payload: dict[str, Any]) -> Ack:
        """An Events API callback; resent in the background if not acked (see above)."""
        body = json.dumps(payload).encode()
        ack = await self._send(body, "application/json")
        if ack.retry_reason is not None:
            task = asyncio.create_task(self._resend(body, ack.retry_reason))
            self._retries.add(task)
            task.add_done_callback(self._retries.discard)
        return ack

    async def _resend(self, body: bytes, reason: str) -> None:
        for number, delay in enumerate(self.event_retry_delays, start=1):
            await asyncio.sleep(delay)
            retry = {"X-Slack-Retry-Num": str(number), "X-Slack-Retry-Reason": reason}
            ack = await self._send(body, "application/json", retry)
            if ack.retry_reason is None:
                return
            reason = ack.retry_reason

    async def _send(
        self, body: bytes, content_type: str, extra: dict[str, str] | None = None
    ) -> Ack:
        # Real time, not the fast-forwarded clock: Bolt rejects timestamps 5 min off its own.
        headers = sign(self._secret, body, int(time.time())) | {"Content-Type": content_type}
        try:
            async with httpx.AsyncClient(timeout=self.ack_timeout) as client:
                response = await client.post(
                    self.events_url, content=body, headers=headers | (extra or {})
                )
        except httpx.TimeoutException:
            return Ack({}, "operation_timeout", "http_timeout")
        except httpx.HTTPError as exc:
            log.warning("could not reach the bot at %s: %s", self.events_url, exc)
            return Ack({}, "dispatch_failed", "connection_failed")
        if response.status_code != 200:
            log.warning("the bot answered HTTP %s", response.status_code)
            no_retry = response.headers.get("x-slack-no-retry") == "1"
            return Ack({}, "dispatch_failed", None if no_retry else "http_error")
        return Ack(_json_or_text(response))


def _json_or_text(response: httpx.Response) -> dict[str, Any]:
    if not response.content:
        return {}
    try:
        body = response.json()
    except ValueError:
        return {"text": response.text}  # Slack shows a plain-text ack as the message
    return body if isinstance(body, dict) else {}
