"""Buttons: App Home Activate / Deactivate / Cancel, and the reminder DM's Extend / Deactivate.

Identity is the clicker's `user.id` from the payload. A button's value names the role or
request to act on; whether the clicker may act on it is decided by the service. Each
click is kept in the intake from its ack until acted on (bot/service/intake.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.command_types import Cancel, Command, Deactivate, DeactivateRequest, ExtendRequest
from bot.domain.durations import parse_duration
from bot.domain.people import slack
from bot.errors import InputError
from bot.service.dispatch import Pimbot
from bot.service.intake import Acked
from bot.service.outcomes import Outcome
from handlers import blocks
from handlers.blocks.modal import Prefill
from handlers.home import publish_home
from handlers.replies import DirectMessages, ephemeral, expect, guarded, kept_respond, redraw, to_dm
from handlers.views import open_activation_form

log = logging.getLogger(__name__)
EXTEND_BY = timedelta(hours=1)


def register(app: AsyncApp, bot: Pimbot, dms: DirectMessages) -> None:
    @app.action("home_activate")
    async def home_activate(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        who, role_id = slack(str(body["user"]["id"])), str(body["actions"][0].get("value") or "")
        trigger_id = str(body["trigger_id"])
        await open_activation_form(client, bot, trigger_id, who, Prefill(role=role_id))

    makers: dict[str, Callable[[str], Command]] = {}

    def on_click(action_id: str, make: Callable[[str], Command]) -> None:
        """A button (or select) whose value `make` turns into the command it stands for."""
        makers[action_id] = make

        @app.action(action_id)
        async def clicked(
            ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
        ) -> None:
            await ack()
            click = _click(body, respond)
            # Kept until done: a replica dying first leaves it to a survivor (replay).
            kept = await bot.keep_acked(CLICK, click)
            await _act(bot, dms, client, click, respond, make)
            await bot.acked_done(kept)

    on_click("home_deactivate", Deactivate)
    on_click("cancel_request", Cancel)
    on_click("reminder_extend", extension)
    on_click("reminder_extend_by", extension)
    on_click("reminder_deactivate", DeactivateRequest)

    async def replay(item: Acked) -> None:
        """A click another replica acked and died before acting on: acted on here, and
        answered as the click would have been. An Extend applies once from the end its
        reminder showed; a Deactivate of what has ended is refused: a replay after the
        work was done changes nothing, at most says so."""
        click = item.payload
        make = makers.get(str(click["action_id"]))
        if make is None:
            log.warning("a kept click of %s has no button here any more", click["action_id"])
            return
        respond = kept_respond(app.client, click.get("response_url"))
        await _act(bot, dms, app.client, click, respond, make)

    bot.replay_acked_with(CLICK, replay)


CLICK = "button"


def _click(body: dict[str, Any], respond: AsyncRespond) -> dict[str, Any]:
    """What a click needs to be acted on again: who, which button and its value, and the
    message it was on (its response_url), if any; nothing else of the payload."""
    action = body["actions"][0]
    chosen = action.get("selected_option") or action  # a select's option, or a button
    on_message = body.get("container", {}).get("type") == "message"
    return {
        "user_id": str(body["user"]["id"]),
        "action_id": str(action["action_id"]),
        "value": str(chosen.get("value") or ""),
        "response_url": respond.response_url if on_message else None,
    }


def extension(value: str) -> ExtendRequest:
    """An Extend's value: `<request id> [<ISO duration> [<end shown>]]`
    (`blocks.reminders.extend_value`). Reminders sent before values carried the end still
    work: they extend (by EXTEND_BY if no duration) from wherever the activation ends."""
    request_id, duration, end = (value.split(" ") + ["", ""])[:3]
    try:
        from_end = datetime.fromisoformat(end) if end else None
    except ValueError:
        from_end = None
    if end and (from_end is None or from_end.tzinfo is None):
        raise InputError("That Extend button is malformed; `/pim extend` still works.")
    return ExtendRequest(request_id, parse_duration(duration) if duration else EXTEND_BY, from_end)


async def _act(
    bot: Pimbot,
    dms: DirectMessages,
    client: AsyncWebClient,
    click: dict[str, Any],
    respond: AsyncRespond,
    make: Callable[[str], Command],
) -> None:
    """Make the command from the click (a malformed value is reported like any error), run
    it, tell the clicker, and refresh the App Home. A click on a message redraws that
    message with the outcome, so its used buttons disappear (as do buttons whose action
    is over: the activation ended, the request was decided); a refusal that leaves the
    buttons meaningful is an ephemeral line instead. App Home clicks are answered by DM."""
    who = slack(str(click["user_id"]))

    async def work() -> blocks.Message:
        command = make(str(click["value"]))
        return blocks.outcome(expect(Outcome, await bot.handle(who, command)))

    by_dm = to_dm(dms, who)
    if click["response_url"]:
        await guarded(redraw(respond, by_dm), work, failed=ephemeral(respond, by_dm))
    else:
        await guarded(by_dm, work)
    await publish_home(client, bot, who)
