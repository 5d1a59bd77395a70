"""`/pim` and its sub-commands: ack at once, parse, one service call, render."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.commands import (
    Activate,
    Cancel,
    Command,
    Deactivate,
    Extend,
    Help,
    ListRoles,
    OpenActivationForm,
    Status,
    help_text,
    parse_command,
)
from bot.errors import InputError
from bot.wiring import Services
from handlers import blocks
from handlers.modal import Prefill
from handlers.replies import dm, ephemeral, guarded, to_dm
from handlers.views import open_activation_form

Work = Callable[[], Awaitable[blocks.Message]]


def register(app: AsyncApp, services: Services) -> None:
    ticket = services.config.ticket
    pattern = re.compile(ticket.pattern)

    @app.command("/pim")
    async def pim(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        user_id = str(command["user_id"])  # identity: the payload's user_id, nothing else
        try:
            text = str(command.get("text") or "")
            parsed = parse_command(text, ticket_pattern=pattern, ticket_example=ticket.example)
        except InputError as exc:
            await ack(
                response_type="ephemeral", **blocks.help_message(help_text(), exc.user_message)
            )
            return
        if isinstance(parsed, Help):
            await ack(
                response_type="ephemeral",
                **blocks.help_message(help_text(parsed.topic), parsed.reason),
            )
            return
        if isinstance(parsed, OpenActivationForm):
            await ack()  # the modal must open inside trigger_id's 3 s; the roles follow
            prefill = Prefill(parsed.role, parsed.duration, parsed.ticket, parsed.justification)
            await open_activation_form(
                client, services, str(command["trigger_id"]), user_id, prefill
            )
            return
        await ack(response_type="ephemeral", **blocks.working())
        reply = ephemeral(respond, to_dm(services.service.notifier, user_id))
        await guarded(reply, _work(services, user_id, parsed))


def _work(services: Services, user_id: str, parsed: Command) -> Work:
    """The one service call a parsed command stands for, rendered."""
    svc = services.service

    async def run() -> blocks.Message:
        match parsed:
            case Activate(role=role, duration=duration, ticket=ticket, justification=why):
                result = await svc.request_activation(user_id, role, duration, ticket, why)
                msg = blocks.outcome(result)
                await dm(svc.notifier, user_id, msg)
                return msg
            case ListRoles():
                return blocks.overview(await svc.overview(user_id))
            case Status(role=role):
                return blocks.overview(await svc.overview(user_id), role)
            case Deactivate(role=role):
                return blocks.outcome(await svc.deactivate(user_id, role))
            case Extend(role=role, duration=duration):
                return blocks.outcome(await svc.extend(user_id, role, duration))
            case Cancel(request_id=request_id):
                return blocks.outcome(await svc.cancel(user_id, request_id))
        return blocks.help_message(help_text(), "I didn't understand that.")

    return run
