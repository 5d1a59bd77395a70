"""Deliver requests to the bot's events URL, signed as Slack signs them, and read the ack.

Slack waits 3 seconds for the ack and then tells the user the app did not respond; we do
the same, so a slow listener shows up here as it would in production."""

from __future__ import annotations

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


class BotLink:
    def __init__(self, events_url: str, signing_secret: str) -> None:
        self.events_url, self._secret = events_url, signing_secret

    async def form(self, fields: dict[str, str]) -> Ack:
        return await self._send(urlencode(fields).encode(), "application/x-www-form-urlencoded")

    async def interaction(self, payload: dict[str, Any]) -> Ack:
        return await self.form({"payload": json.dumps(payload)})

    async def event(self, payload: dict[str, Any]) -> Ack:
        return await self._send(json.dumps(payload).encode(), "application/json")

    async def _send(self, body: bytes, content_type: str) -> Ack:
        # Real time, not the fast-forwarded clock: Bolt rejects timestamps 5 min off its own.
        headers = sign(self._secret, body, int(time.time())) | {"Content-Type": content_type}
        try:
            async with httpx.AsyncClient(timeout=ACK_TIMEOUT) as client:
                response = await client.post(self.events_url, content=body, headers=headers)
        except httpx.TimeoutException:
            return Ack({}, "operation_timeout")
        except httpx.HTTPError as exc:
            log.warning("could not reach the bot at %s: %s", self.events_url, exc)
            return Ack({}, "dispatch_failed")
        if response.status_code != 200:
            log.warning("the bot answered HTTP %s", response.status_code)
            return Ack({}, "dispatch_failed")
        return Ack(_json_or_text(response))


def _json_or_text(response: httpx.Response) -> dict[str, Any]:
    if not response.content:
        return {}
    try:
        body = response.json()
    except ValueError:
        return {"text": response.text}  # Slack shows a plain-text ack as the message
    return body if isinstance(body, dict) else {}
