"""Buttons: App Home Activate / Deactivate / Cancel, and the reminder DM's Extend / Deactivate.

Identity is the clicker's `user.id` from the payload. A button's value names the role or
request to act on; whether the clicker may act on it is decided by the service.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.command_types import Cancel, Command, Deactivate, DeactivateRequest, ExtendRequest
from bot.domain.durations import parse_duration
from bot.domain.people import PersonKey, slack
from bot.service.dispatch import Pimbot
from bot.service.outcomes import Outcome
from handlers import blocks
from handlers.blocks.modal import Prefill
from handlers.home import publish_home
from handlers.replies import DirectMessages, expect, guarded, to_dm
from handlers.views import open_activation_form

EXTEND_BY = timedelta(hours=1)


def _clicked(body: dict[str, Any]) -> tuple[PersonKey, str]:
    return slack(str(body["user"]["id"])), str(body["actions"][0].get("value") or "")


def register(app: AsyncApp, bot: Pimbot, dms: DirectMessages) -> None:
    @app.action("home_activate")
    async def home_activate(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        who, role_id = _clicked(body)
        trigger_id = str(body["trigger_id"])
        await open_activation_form(client, bot, trigger_id, who, Prefill(role=role_id))

    @app.action("home_deactivate")
    async def home_deactivate(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        who, role_id = _clicked(body)
        await _act(bot, dms, client, who, lambda: Deactivate(role_id))

    @app.action("cancel_request")
    async def cancel_request(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        who, request_id = _clicked(body)
        await _act(bot, dms, client, who, lambda: Cancel(request_id))

    @app.action("reminder_extend")
    async def reminder_extend(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        who, request_id = _clicked(body)
        await _act(bot, dms, client, who, lambda: ExtendRequest(request_id, EXTEND_BY))

    @app.action("reminder_extend_by")
    async def reminder_extend_by(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        who = slack(str(body["user"]["id"]))
        chosen = str(body["actions"][0].get("selected_option", {}).get("value") or "")
        request_id, _, iso = chosen.partition(" ")
        extend = lambda: ExtendRequest(request_id, parse_duration(iso))  # noqa: E731
        await _act(bot, dms, client, who, extend)

    @app.action("reminder_deactivate")
    async def reminder_deactivate(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        who, request_id = _clicked(body)
        await _act(bot, dms, client, who, lambda: DeactivateRequest(request_id))


async def _act(
    bot: Pimbot,
    dms: DirectMessages,
    client: AsyncWebClient,
    who: PersonKey,
    make: Callable[[], Command],
) -> None:
    """Make the command from the click (a malformed value is reported like any error), run
    it, DM the outcome (or the error), and refresh the App Home."""

    async def work() -> blocks.Message:
        return blocks.outcome(expect(Outcome, await bot.handle(who, make())))

    await guarded(to_dm(dms, who), work)
    await publish_home(client, bot, who)
