"""The App Home tab: published on `app_home_opened` and after Home buttons act (the
service refreshes it after every other change); Approve from "Waiting for you"."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.command_types import Approve
from bot.domain.people import PersonKey, slack
from bot.errors import PimError
from bot.service.dispatch import Pimbot
from bot.service.outcomes import Decision
from bot.service.signins import LinkState, SignInRequired, StepUpRequired
from handlers import blocks
from handlers.approvals import approved_line
from handlers.blocks import home as home_tab
from handlers.replies import DirectMessages, expect, guarded, new_ref, to_dm

log = logging.getLogger("handlers")


def register(app: AsyncApp, bot: Pimbot, dms: DirectMessages) -> None:
    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab", "home") != "home":
            return  # the Messages tab needs nothing from us
        await publish_home(client, bot, slack(str(event["user"])))

    @app.action(home_tab.HOME_APPROVE)
    async def approve(ack: AsyncAck, body: dict[str, Any]) -> None:
        """Approve from "Waiting for you": as on the card (the same service call and
        checks), answered by DM since a Home has no response_url; the Homes it changes
        are refreshed by the service."""
        await ack()
        who, request_id = slack(str(body["user"]["id"])), str(body["actions"][0]["value"])

        async def work() -> blocks.Message:
            decision = expect(Decision, await bot.handle(who, Approve(request_id)))
            return blocks.message(approved_line(decision))

        await guarded(to_dm(dms, who), work)


async def publish_home(client: AsyncWebClient, bot: Pimbot, who: PersonKey) -> None:
    """Build the user's Home from one overview and publish it; errors become the Home.
    In user mode someone not signed in gets a Sign in button instead (no Graph call)."""
    link = bot.link_state(who)
    try:
        await bot.admit(who)  # someone who may not use the bot sees why, not a Sign in button
        if link is not None and not link.linked:
            view = home_tab.sign_in_home(link)
        else:
            view = home_tab.home(await bot.overview(who), link)
    except (SignInRequired, StepUpRequired) as exc:
        # The refresh token may just have been found dead: read the link state again.
        link = bot.link_state(who) or link
        view = home_tab.sign_in_home(link or LinkState(who, linked=False), exc.user_message)
    except PimError as exc:
        view = home_tab.home_notice(f":warning: {exc.user_message}")
    except Exception:  # noqa: BLE001 - the user gets a ref; the trace goes to the log
        ref = new_ref()
        log.exception("building the App Home failed (ref %s)", ref)
        view = home_tab.home_notice(blocks.internal_error(ref)["text"])
    try:
        await client.views_publish(user_id=who.chat_user_id, view=view)
    except Exception:  # noqa: BLE001 - nothing else to show the user on; log why
        log.warning("views.publish for %s failed", who, exc_info=True)
