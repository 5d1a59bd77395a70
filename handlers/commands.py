"""`/pim` and its sub-commands: ack at once, parse, one service call, render.

Quick answers (help, a typo) are the ack itself; anything else acks "Working on it…" and
then answers once, as a new ephemeral message through the command's response_url (or by
DM when the command was typed in the bot's DM, or when Slack refuses the URL)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.board import ActivationHistory, Board
from bot.domain.commands import (
    Activate,
    BreakGlass,
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
from bot.domain.validation import ticket_regex
from bot.service.dispatch import Pimbot
from bot.service.intake import Acked
from bot.service.outcomes import ApprovalQueue, GlassOutcome, Outcome, Overview
from handlers import blocks
from handlers.blocks import nudges, signin
from handlers.blocks.board import history_message, who_message
from handlers.blocks.breakglass import glass_reply
from handlers.blocks.help import help_text, unknown_command, usage
from handlers.blocks.modal import Prefill
from handlers.replies import DirectMessages, Reply, dm, ephemeral, guarded, kept_respond, to_dm
from handlers.views import open_activation_form

Work = Callable[[], Awaitable[blocks.Message]]


def register(app: AsyncApp, bot: Pimbot, dms: DirectMessages) -> None:
    ticket = bot.config.ticket
    pattern = ticket_regex(ticket.pattern)

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
        # The work takes Graph round trips: say so at once, then answer once, as a new
        # message (a command's ack cannot be replaced: see replies.ephemeral).
        await ack(response_type="ephemeral", **blocks.working())
        # Kept until done: a replica dying before it is leaves it to a survivor.
        kept = await bot.keep_acked(ACKED, _replayable(command))
        await _carry_out(bot, dms, client, command, respond, parsed)
        await bot.acked_done(kept)

    async def replay(item: Acked) -> None:
        """A command another replica acked and died before carrying out: run as typed,
        answered through its response_url (Bolt's own Respond, as the listener gets)."""
        command = item.payload
        text = str(command.get("text") or "")
        parsed = parse_command(text, ticket_pattern=pattern, ticket_example=ticket.example)
        if await bot.stored_since(slack(str(command["user_id"])), parsed, item.at):
            return  # its request was stored: that request's lease carries it on
        respond = kept_respond(app.client, str(command["response_url"]))
        await _carry_out(bot, dms, app.client, command, respond, parsed)

    bot.replay_acked_with(ACKED, replay)


ACKED = "slash_command"
# What a kept command needs to run again; not Slack's verification `token`, nor anything
# else of the payload (https://api.slack.com/interactivity/slash-commands#app_command_handling).
_KEPT_FIELDS = ("user_id", "text", "channel_id", "team_id", "response_url")


def _replayable(command: dict[str, Any]) -> dict[str, Any]:
    return {key: command[key] for key in _KEPT_FIELDS if key in command}


async def _carry_out(
    bot: Pimbot,
    dms: DirectMessages,
    client: AsyncWebClient,
    command: dict[str, Any],
    respond: AsyncRespond,
    parsed: Command,
) -> None:
    """The work after the ack: one service call, answered where the user is."""
    who = slack(str(command["user_id"]))
    in_dm = await _in_bots_dm(client, command, who)
    reply, failed = _answer(dms, who, respond, in_dm, parsed)
    await guarded(reply, _work(bot, who, parsed), failed=failed)


def _help(asked: Help, signin: bool) -> blocks.Message:
    if asked.unknown is not None:
        why, more = unknown_command(asked, signin=signin)
        return blocks.help_message(more, why)
    return blocks.help_message(help_text(asked.topic, signin=signin))


def _answer(
    dms: DirectMessages, who: PersonKey, respond: AsyncRespond, in_dm: bool, parsed: Command
) -> tuple[Reply, Reply]:
    """Where the one answer goes, and where a refusal or error goes."""
    by_dm = to_dm(dms, who)
    if in_dm:
        return by_dm, by_dm  # the DM is where the user is
    if isinstance(parsed, Activate | BreakGlass):
        # An ephemeral answer does not last: an activation's outcome is also kept in the
        # DM, which is the one message left if Slack refuses the response_url.
        return _and_dm(ephemeral(respond), dms, who), ephemeral(respond, by_dm)
    return ephemeral(respond, by_dm), ephemeral(respond, by_dm)


def _and_dm(reply: Reply, dms: DirectMessages, who: PersonKey) -> Reply:
    async def both(msg: blocks.Message) -> None:
        await dm(dms, who, msg)  # first: once the answer shows, its copy is kept
        await reply(msg)

    return both


async def _in_bots_dm(client: AsyncWebClient, command: dict[str, Any], who: PersonKey) -> bool:
    """Whether `/pim` was typed in the user's DM with the bot (`conversations.open` names
    it; any other DM is someone else's conversation)."""
    channel = str(command.get("channel_id") or "")
    if not channel.startswith("D"):
        return False
    try:
        opened = await client.conversations_open(users=who.chat_user_id)
    except (SlackApiError, SlackClientError, OSError, TimeoutError):
        return False  # then the ephemeral answer, as anywhere else
    return str(opened["channel"]["id"]) == channel


def _work(bot: Pimbot, who: PersonKey, parsed: Command) -> Work:
    """The one service call a parsed command stands for, rendered."""

    async def run() -> blocks.Message:
        # In user mode a missing sign-in sends a code; an activation is kept meanwhile.
        result = await bot.handle(who, parsed)
        if isinstance(result, Overview):
            return blocks.overview(result, parsed.role if isinstance(parsed, Status) else None)
        if isinstance(result, Outcome):
            return blocks.outcome(result)
        if isinstance(result, GlassOutcome):
            return glass_reply(result)
        if isinstance(result, ApprovalQueue):
            return nudges.queue(result.waiting, dict(result.pinged), result.now)
        if isinstance(result, Board):
            return who_message(result)
        if isinstance(result, ActivationHistory):
            return history_message(result)
        if isinstance(parsed, Login | Logout):
            return signin.sign_in_reply(result)
        return blocks.help_message(help_text(), "I didn't understand that.")

    return run
