"""The workspace object: the seed, its state, and the link to the bot, in one place that
the Web API routes and the page's routes share (it lives on `app.state.workspace`)."""

from __future__ import annotations

import inspect
import logging
import secrets
from collections.abc import Awaitable, Callable

from bot.simulators.workspace.conversations import Conversations
from bot.simulators.workspace.delivery import BotLink
from bot.simulators.workspace.ratelimit import RateLimit
from bot.simulators.workspace.responses import ResponseUrls
from bot.simulators.workspace.seed import SeedUser, WorkspaceSeed
from bot.simulators.workspace.state import ApiError, Changes, WorkspaceClock
from bot.simulators.workspace.surfaces import Surfaces

FastForward = Callable[[float], Awaitable[None] | None]
log = logging.getLogger(__name__)


class Workspace:
    def __init__(
        self,
        *,
        seed: WorkspaceSeed,
        bot_token: str,
        link: BotLink,
        on_fast_forward: FastForward | None = None,
    ) -> None:
        self.seed, self.bot_token, self.link = seed, bot_token, link
        self.on_fast_forward = on_fast_forward
        self.changes = Changes()
        self.clock = WorkspaceClock()
        self.conversations = Conversations(seed, self.changes, self.clock)
        self.surfaces = Surfaces(self.changes)
        self.responses = ResponseUrls(self.conversations)
        self.rate_limit = RateLimit()
        # Changes when the process restarts: the page then knows its messages are gone.
        self.boot = secrets.token_hex(4)

    def person(self, user_id: str) -> SeedUser:
        user = self.seed.user(user_id)
        if user is None:
            raise ApiError("user_not_found")
        return user

    async def fast_forward(self, seconds: float) -> float:
        """Move the workspace's message clock, then the bot's (through the hook): what the
        bot sends as the clock moves (reminders, "has ended") carries the new time."""
        with self.changes.mutate():
            self.clock.offset += seconds
        if self.on_fast_forward is not None:
            try:
                result = self.on_fast_forward(seconds)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:  # the page says it failed; the log says why
                log.exception("fast-forward by %s s failed", seconds)
                with self.changes.mutate():
                    self.clock.offset -= seconds
                raise ApiError("fast_forward_failed") from exc
        return self.clock.offset
