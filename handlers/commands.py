"""`/pim` and its sub-commands: ack at once, parse, one service call, render."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from functools import partial
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
    Login,
    Logout,
    OpenActivationForm,
    Status,
    help_text,
    parse_command,
)
from bot.domain.durations import to_iso
from bot.errors import InputError
from bot.service.outcomes import Overview
from bot.signin.resume import activation_item
from bot.wiring import Services
from handlers import blocks, signin
from handlers.blocks.modal import Prefill
from handlers.replies import dm, ephemeral, guarded, to_dm
from handlers.views import open_activation_form

Work = Callable[[], Awaitable[blocks.Message]]


def register(app: AsyncApp, services: Services) -> None:
    ticket = services.config.ticket
    pattern = re.compile(ticket.pattern)
    user_mode = services.signin is not None

    @app.command("/pim")
    async def pim(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        user_id = str(command["user_id"])  # identity: the payload's user_id, nothing else
        try:
            text = str(command.get("text") or "")
            parsed = parse_command(text, ticket_pattern=pattern, ticket_example=ticket.example)
        except InputError as exc:
            usage = help_text(signin=user_mode)
            await ack(response_type="ephemeral", **blocks.help_message(usage, exc.user_message))
            return
        if isinstance(parsed, Help):
            usage = help_text(parsed.topic, signin=user_mode)
            await ack(response_type="ephemeral", **blocks.help_message(usage, parsed.reason))
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
        # In user mode a missing sign-in DMs a code; an activation is kept meanwhile.
        match parsed:
            case Activate(role=role, duration=duration, ticket=ticket, justification=why):
                item = activation_item(user_id, role, to_iso(duration), ticket, why)
                activate = partial(svc.request_activation, user_id, role, duration, ticket, why)
                result = await services.as_user(user_id, item, activate)
                msg = blocks.outcome(result)
                await dm(svc.notifier, user_id, msg)
                return msg
            case ListRoles():
                return blocks.overview(await services.as_user(user_id, None, overview))
            case Status(role=role):
                return blocks.overview(await services.as_user(user_id, None, overview), role)
            case Deactivate(role=role):
                done = await services.as_user(user_id, None, partial(svc.deactivate, user_id, role))
                return blocks.outcome(done)
            case Extend(role=role, duration=duration):
                extend = partial(svc.extend, user_id, role, duration)
                done = await services.as_user(user_id, None, extend)
                return blocks.outcome(done)
            case Cancel(request_id=request_id):
                cancel = partial(svc.cancel, user_id, request_id)
                done = await services.as_user(user_id, None, cancel)
                return blocks.outcome(done)
            case Login():
                return await signin.login(services, user_id)
            case Logout():
                return await signin.logout(services, user_id)
        return blocks.help_message(help_text(), "I didn't understand that.")

    async def overview() -> Overview:
        return await svc.overview(user_id)

    return run
