"""Interaction payloads as Slack sends them (before form-encoding: see signing.py)."""

from __future__ import annotations

import time
from typing import Any

TEAM = {"id": "T_CONTOSO"}


def block_actions(
    user: str,
    action_id: str,
    value: str,
    *,
    response_url: str | None = None,
    channel: str = "C_PIM_APPROVALS",
    home: bool = False,
    block_id: str = "b",
) -> dict[str, Any]:
    """A button click by `user`: on a message in `channel` (with its `response_url`), or
    on the App Home (`home=True`: a view container, no response_url)."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "team_id": TEAM["id"]},
        "team": TEAM,
        "api_app_id": "A_PIMBOT",
        "trigger_id": f"trigger.{time.monotonic_ns()}",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "value": value,
                "block_id": block_id,
                "action_ts": "1",
            }
        ],
    }
    if home:
        payload["view"] = {"id": "V_HOME", "type": "home"}
        payload["container"] = {"type": "view", "view_id": "V_HOME"}
    else:
        payload["response_url"] = response_url or ""
        payload["channel"] = {"id": channel}
        payload["container"] = {"type": "message", "channel_id": channel}
    return payload


def deny_submission(view: dict[str, Any], user: str, reason: str) -> dict[str, Any]:
    """The Deny modal submitted by `user` with `reason`, as Slack sends it."""
    value = {"type": "plain_text_input", "value": reason}
    return {
        "type": "view_submission",
        "user": {"id": user, "team_id": TEAM["id"]},
        "team": TEAM,
        "api_app_id": "A_PIMBOT",
        "view": {**view, "id": "V_DENY", "state": {"values": {"reason": {"value": value}}}},
    }
