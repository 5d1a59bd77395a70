"""Slack listeners (thin: ack, parse, one service call, render) and the Bolt app."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.wiring import Services


def register(app: AsyncApp, services: Services) -> None:
    """Attach every surface's listeners to `app`."""
    from handlers import actions, approvals, commands, home, signin, views

    for surface in (commands, actions, views, home, approvals, signin):
        surface.register(app, services)
