"""Signed-in-user mode in Slack: the Home's Sign in button (`/pim login` and `/pim logout`
are commands; how a background sign-in ends is told by the notifier)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.command_types import Login
from bot.domain.people import slack
from bot.service.dispatch import Pimbot
from handlers import blocks
from handlers.blocks import signin
from handlers.blocks.home import HOME_LOGIN
from handlers.home import publish_home
from handlers.replies import DirectMessages, guarded, to_dm


def register(app: AsyncApp, bot: Pimbot, dms: DirectMessages) -> None:
    @app.action(HOME_LOGIN)
    async def home_login(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        who = slack(str(body["user"]["id"]))

        async def work() -> blocks.Message:
            return signin.sign_in_reply(await bot.handle(who, Login()))

        await guarded(to_dm(dms, who), work)
        await publish_home(client, bot, who)  # now: "a sign-in is waiting"
