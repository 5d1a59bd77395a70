"""Buttons: App Home Activate / Deactivate / Cancel, and the reminder DM's Extend / Deactivate.

Identity is the clicker's `user.id` from the payload. A Home button's value names the role
or request to act on; whether the clicker may act on it is decided by the service.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.durations import parse_duration
from bot.service.activation import Outcome
from bot.wiring import Services
from handlers import blocks
from handlers.blocks.modal import Prefill
from handlers.home import publish_home
from handlers.replies import guarded, to_dm
from handlers.views import open_activation_form

EXTEND_BY = timedelta(hours=1)


def _clicked(body: dict[str, Any]) -> tuple[str, str]:
    return str(body["user"]["id"]), str(body["actions"][0].get("value") or "")


def register(app: AsyncApp, services: Services) -> None:
    svc = services.service

    @app.action("home_activate")
    async def home_activate(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        user_id, role_id = _clicked(body)
        await open_activation_form(
            client, services, str(body["trigger_id"]), user_id, Prefill(role=role_id)
        )

    @app.action("home_deactivate")
    async def home_deactivate(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        user_id, role_id = _clicked(body)
        await _act(services, client, user_id, lambda: svc.deactivate(user_id, role_id))

    @app.action("cancel_request")
    async def cancel_request(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        user_id, request_id = _clicked(body)
        await _act(services, client, user_id, lambda: svc.cancel(user_id, request_id))

    @app.action("reminder_extend")
    async def reminder_extend(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        user_id, request_id = _clicked(body)

        async def extend() -> Outcome:
            record = svc.request_for(user_id, request_id)
            return await svc.extend(user_id, record.role_id, EXTEND_BY, record.scope)

        await _act(services, client, user_id, extend)

    @app.action("reminder_extend_by")
    async def reminder_extend_by(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        user_id = str(body["user"]["id"])
        chosen = str(body["actions"][0].get("selected_option", {}).get("value") or "")
        request_id, _, iso = chosen.partition(" ")

        async def extend() -> Outcome:
            record = svc.request_for(user_id, request_id)
            return await svc.extend(user_id, record.role_id, parse_duration(iso), record.scope)

        await _act(services, client, user_id, extend)

    @app.action("reminder_deactivate")
    async def reminder_deactivate(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        user_id, request_id = _clicked(body)

        async def deactivate() -> Outcome:
            record = svc.request_for(user_id, request_id)  # its scope, not any other
            return await svc.deactivate(user_id, record.role_id, record.scope)

        await _act(services, client, user_id, deactivate)


async def _act(
    services: Services,
    client: AsyncWebClient,
    user_id: str,
    call: Callable[[], Awaitable[Outcome]],
) -> None:
    """Run one service call, DM the outcome (or the error), and refresh the App Home."""

    async def work() -> blocks.Message:
        return blocks.outcome(await services.as_user(user_id, None, call))

    await guarded(to_dm(services.service.notifier, user_id), work)
    await publish_home(client, services, user_id)
