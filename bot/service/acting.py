"""`as_the_user`: run a use case's Graph calls as the Slack user it is for.

In user mode (`graph.identity: user`) the one Graph port acts as whoever `actors.acting_as`
names; a use case whose first argument is the Slack user id is wrapped with this so its
every Graph call carries that user's token. In application mode it changes nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from bot.service.ports import Actors


class _Acting(Protocol):
    actors: Actors


Self_ = TypeVar("Self_", bound=_Acting)
P = ParamSpec("P")
R = TypeVar("R")


def as_the_user(
    method: Callable[Concatenate[Self_, str, P], Awaitable[R]],
) -> Callable[Concatenate[Self_, str, P], Awaitable[R]]:
    """Run a use case's Graph calls as its Slack user (user mode; a no-op otherwise)."""

    @functools.wraps(method)
    async def acting(self: Self_, slack_user_id: str, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self.actors.acting_as(slack_user_id):
            return await method(self, slack_user_id, *args, **kwargs)

    return acting
