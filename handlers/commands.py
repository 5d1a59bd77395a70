"""`/pim` and its sub-commands: ack at once, parse, one service call, render."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.commands import (
    Activate,
    Command,
    Help,
    Login,
    Logout,
    OpenActivationForm,
    Status,
    UsageError,
    parse_command,
)
from bot.domain.people import PersonKey, slack
from bot.service.dispatch import Pimbot
from bot.service.outcomes import Outcome, Overview
from handlers import blocks
from handlers.blocks import signin
from handlers.blocks.help import help_text, unknown_command, usage
from handlers.blocks.modal import Prefill
from handlers.replies import DirectMessages, dm, ephemeral, guarded, to_dm
from handlers.views import open_activation_form

Work = Callable[[], Awaitable[blocks.Message]]


def register(app: AsyncApp, bot: Pimbot, dms: DirectMessages) -> None:
    ticket = bot.config.ticket
    pattern = re.compile(ticket.pattern)

    @app.command("/pim")
    async def pim(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        who = slack(str(command["user_id"]))  # identity: the payload's who, nothing else
        try:
            text = str(command.get("text") or "")
            parsed = parse_command(text, ticket_pattern=pattern, ticket_example=ticket.example)
        except UsageError as exc:  # the message and that one sub-command's usage
            await ack(
                response_type="ephemeral",
                **blocks.help_message(usage(exc.command), exc.user_message),
            )
            return
        if isinstance(parsed, Help):
            await ack(response_type="ephemeral", **_help(parsed, bot.signs_in))
            return
        if isinstance(parsed, OpenActivationForm):
            await ack()  # the modal must open inside trigger_id's 3 s; the roles follow
            prefill = Prefill(parsed.role, parsed.duration, parsed.ticket, parsed.justification)
            await open_activation_form(client, bot, str(command["trigger_id"]), who, prefill)
            return
        await ack(response_type="ephemeral", **blocks.working())
        reply = ephemeral(respond, to_dm(dms, who))
        await guarded(reply, _work(bot, dms, who, parsed))


def _help(asked: Help, signin: bool) -> blocks.Message:
    if asked.unknown is not None:
        why, more = unknown_command(asked, signin=signin)
        return blocks.help_message(more, why)
    return blocks.help_message(help_text(asked.topic, signin=signin))


def _work(bot: Pimbot, dms: DirectMessages, who: PersonKey, parsed: Command) -> Work:
    """The one service call a parsed command stands for, rendered."""

    async def run() -> blocks.Message:
        # In user mode a missing sign-in sends a code; an activation is kept meanwhile.
        result = await bot.handle(who, parsed)
        if isinstance(result, Overview):
            return blocks.overview(result, parsed.role if isinstance(parsed, Status) else None)
        if isinstance(result, Outcome):
            msg = blocks.outcome(result)
            if isinstance(parsed, Activate):
                await dm(dms, who, msg)
            return msg
        if isinstance(parsed, Login | Logout):
            return signin.sign_in_reply(result)
        return blocks.help_message(help_text(), "I didn't understand that.")

    return run
