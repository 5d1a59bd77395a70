"""A local Slack workspace (bot/simulators/workspace) served for a test, and what the
test needs to drive it: its URL, the workspace itself and, when one runs, the Bolt app
behind its bot events URL."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.simulators.workspace import Workspace


@dataclass
class Rig:
    url: str
    workspace: Workspace
    bolt: AsyncApp | None = None
    forwarded: list[float] = field(default_factory=list)
    seen: list[dict[str, Any]] = field(default_factory=list)  # payloads the Bolt app got
