"""Signed-in-user mode in Slack: `/pim login`, `/pim logout`, the Home's Sign in button,
and what the user is told when a background sign-in ends (then what was kept, replayed)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.signin.models import LoginOutcome, LoginResult
from bot.signin.resume import Replayed
from bot.wiring import Services
from handlers import blocks
from handlers.blocks.home import HOME_LOGIN
from handlers.home import publish_home
from handlers.replies import dm, guarded, to_dm

log = logging.getLogger("handlers")
APP_MODE = (
    "This pimbot acts with its own application identity, so there is nothing to sign in "
    "to: just `/pim activate`."
)


def register(app: AsyncApp, services: Services) -> None:
    if services.signin is not None:
        services.signin.login.listener = LoginReporter(services, app.client)

    @app.action(HOME_LOGIN)
    async def home_login(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        user_id = str(body["user"]["id"])

        async def work() -> blocks.Message:
            return await login(services, user_id)

        await guarded(to_dm(services.service.notifier, user_id), work)
        await publish_home(client, services, user_id)  # now: "a sign-in is waiting"


async def login(services: Services, user_id: str) -> blocks.Message:
    """Start a device-code sign-in; the code goes by DM (it must not sit in a channel)."""
    if services.kept is None:
        return blocks.message(APP_MODE)
    await services.kept.send_code(user_id)
    return blocks.message(
        "I've sent you a sign-in code by direct message. Sign in as your own "
        "Microsoft Entra account; I'll confirm here when you're done."
    )


async def logout(services: Services, user_id: str) -> blocks.Message:
    if services.signin is None:
        return blocks.message(APP_MODE)
    if services.signin.login.logout(user_id):
        return blocks.message("Signed out: I've forgotten your Microsoft Entra tokens.")
    return blocks.message("You weren't signed in. `/pim login` signs you in.")


class LoginReporter:
    """The LoginListener: DM how the sign-in ended, then run what was kept for the user."""

    def __init__(self, services: Services, client: AsyncWebClient) -> None:
        self._services, self._client = services, client

    async def login_finished(self, outcome: LoginOutcome) -> None:
        user_id, notifier = outcome.slack_user_id, self._services.service.notifier
        icon = ":white_check_mark:" if outcome.result is LoginResult.LINKED else ":warning:"
        await dm(notifier, user_id, blocks.message(f"{icon} {outcome.message}"))
        if outcome.result is LoginResult.LINKED and self._services.kept is not None:
            try:
                for done in await self._services.kept.replay(user_id):
                    await dm(notifier, user_id, replayed(done))
            except Exception:  # noqa: BLE001 - kept work stays stored for the next sign-in
                log.exception("replaying the work kept for %s failed", user_id)
        await publish_home(self._client, self._services, user_id)


def replayed(done: Replayed) -> blocks.Message:
    if done.outcome is not None:
        return blocks.outcome(done.outcome)
    if done.decision is not None:
        verb = "approved" if done.decision.approved else "denied"
        return blocks.message(f"You {verb} `{done.decision.record.id}` (kept until you signed in).")
    return blocks.error(done.error or "That could not be done.")
