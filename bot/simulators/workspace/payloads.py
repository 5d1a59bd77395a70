"""The requests Slack sends an app, shaped field for field as Slack does, so the real Bolt
app runs its ordinary code path: slash commands (form fields), interactions (form field
`payload=<json>`) and Events API callbacks (JSON)."""

from __future__ import annotations

import secrets
import time
from typing import Any

from bot.simulators.workspace.conversations import Channel, Message
from bot.simulators.workspace.seed import SeedUser, WorkspaceSeed

# Slack still sends the deprecated verification token; Bolt ignores it in favour of the
# signature, so any fixed value is faithful enough.
VERIFICATION_TOKEN = "local-verification-token"  # noqa: S105 - not a secret, see above


def _user(seed: WorkspaceSeed, user: SeedUser) -> dict[str, Any]:
    return {"id": user.id, "username": user.name, "name": user.name, "team_id": seed.team_id}


def _channel_name(channel: Channel) -> str:
    return "directmessage" if channel.is_im else channel.name


def slash_command(
    seed: WorkspaceSeed,
    user: SeedUser,
    channel: Channel,
    command: str,
    text: str,
    response_url: str,
    trigger_id: str,
) -> dict[str, str]:
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": seed.team_id,
        "team_domain": seed.team_domain,
        "channel_id": channel.id,
        "channel_name": _channel_name(channel),
        "user_id": user.id,
        "user_name": user.name,
        "command": command,
        "text": text,
        "api_app_id": seed.app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def _interaction(seed: WorkspaceSeed, user: SeedUser, kind: str) -> dict[str, Any]:
    return {
        "type": kind,
        "token": VERIFICATION_TOKEN,
        "api_app_id": seed.app_id,
        "user": _user(seed, user),
        "team": {"id": seed.team_id, "domain": seed.team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
    }


def action_ts() -> str:
    return f"{time.time():.6f}"


def message_actions(
    seed: WorkspaceSeed,
    user: SeedUser,
    channel: Channel,
    message: Message,
    action: dict[str, Any],
    response_url: str,
    trigger_id: str,
) -> dict[str, Any]:
    """`block_actions` for a button or select in a message (ephemeral ones included)."""
    payload = _interaction(seed, user, "block_actions") | {
        "container": {
            "type": "message",
            "message_ts": message.ts,
            "channel_id": channel.id,
            "is_ephemeral": message.ephemeral_for is not None,
        },
        "trigger_id": trigger_id,
        "channel": {"id": channel.id, "name": _channel_name(channel)},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action],
    }
    if message.ephemeral_for is None:  # Slack sends no `message` for an ephemeral one
        payload["message"] = message.api()
    return payload


def view_actions(
    seed: WorkspaceSeed,
    user: SeedUser,
    view: dict[str, Any],
    action: dict[str, Any],
    trigger_id: str,
) -> dict[str, Any]:
    """`block_actions` for an element in a modal or the App Home: no response_url."""
    return _interaction(seed, user, "block_actions") | {
        "container": {"type": "view", "view_id": view["id"]},
        "trigger_id": trigger_id,
        "view": view,
        "actions": [action],
    }


def view_submission(
    seed: WorkspaceSeed, user: SeedUser, view: dict[str, Any], trigger_id: str
) -> dict[str, Any]:
    return _interaction(seed, user, "view_submission") | {
        "trigger_id": trigger_id,
        "view": view,
        "response_urls": [],
    }


def view_closed(seed: WorkspaceSeed, user: SeedUser, view: dict[str, Any]) -> dict[str, Any]:
    return _interaction(seed, user, "view_closed") | {"view": view, "is_cleared": False}


def app_home_opened(
    seed: WorkspaceSeed,
    user: SeedUser,
    channel: Channel,
    tab: str,
    view: dict[str, Any] | None,
) -> dict[str, Any]:
    now = time.time()
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user.id,
        "channel": channel.id,
        "tab": tab,
        "event_ts": f"{now:.6f}",
    }
    if view is not None:
        event["view"] = view
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": seed.team_id,
        "api_app_id": seed.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{secrets.token_hex(6).upper()}",
        "event_time": int(now),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": seed.team_id,
                "user_id": seed.bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }
