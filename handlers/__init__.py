"""Slack listeners (thin: ack, parse, one service call, render) and the Bolt app."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.service.dispatch import Pimbot
    from handlers.replies import DirectMessages


def register(app: AsyncApp, bot: Pimbot, dms: DirectMessages) -> None:
    """Attach every surface's listeners to `app`."""
    from handlers import actions, approvals, commands, home, signin, views

    for surface in (commands, actions, views, home, approvals, signin):
        surface.register(app, bot, dms)
