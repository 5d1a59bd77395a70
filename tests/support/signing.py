"""Sign request bodies exactly as Slack does, so tests can talk to the bot like Slack."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode


def signature(secret: str, timestamp: str, body: str) -> str:
    """`v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}` keyed by the signing secret."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str,
    body: str,
    *,
    timestamp: float | None = None,
    content_type: str = "application/x-www-form-urlencoded",
) -> dict[str, str]:
    """The headers Slack sends with a POST to the request URL."""
    ts = str(int(time.time() if timestamp is None else timestamp))
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature(secret, ts, body),
    }


def command_body(text: str, *, user_id: str, response_url: str, **extra: str) -> str:
    """A `/pim` slash command as Slack form-encodes it."""
    fields = {
        "token": "deprecated-verification-token",
        "team_id": "T_CONTOSO",
        "team_domain": "contoso",
        "channel_id": "C_GENERAL",
        "channel_name": "general",
        "user_id": user_id,
        "user_name": user_id.lower(),
        "command": "/pim",
        "text": text,
        "api_app_id": "A_PIMBOT",
        "response_url": response_url,
        "trigger_id": f"trigger.{time.monotonic_ns()}",
    }
    fields.update(extra)
    return urlencode(fields)


def interaction_body(payload: dict[str, Any]) -> str:
    """Interactions (buttons, view submissions) arrive as `payload=<json>`, form-encoded."""
    return urlencode({"payload": json.dumps(payload)})


def event_body(event: dict[str, Any]) -> str:
    """Events API callbacks are JSON bodies."""
    return json.dumps(
        {
            "token": "deprecated-verification-token",
            "team_id": "T_CONTOSO",
            "api_app_id": "A_PIMBOT",
            "type": "event_callback",
            "event_id": f"Ev{time.monotonic_ns()}",
            "event_time": int(time.time()),
            "event": event,
        }
    )
