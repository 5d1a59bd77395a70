"""Sign-in helpers: signed-in-user mode's adapter as the bot wires it (`SignIn`), the
person at the sandbox's device-code page, and the whole `/pim login` round trip."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

import httpx

from bot.domain.people import PersonKey, slack
from bot.graph import GraphPim
from bot.graph.tls import trust
from bot.service.signins import LoginOutcome
from bot.settings import Settings
from bot.signin.approvals import PimApprovals
from bot.signin.login import LoginService, Resolver
from bot.signin.tokens import UserTokens
from bot.signin.wiring import UserModeParts, build_user_mode
from bot.simulators.sandbox import SandboxServer
from bot.store import SqlStore
from bot.store.kept import SqlKeptWork
from tests.support.clock import FakeClock

T = TypeVar("T")


@dataclass
class SignIn:
    """Signed-in-user mode's adapter as the bot wires it: the parts and the sign-ins."""

    parts: UserModeParts
    login: LoginService

    @property
    def approvals(self) -> PimApprovals:
        return self.parts.approvals

    @property
    def tokens(self) -> UserTokens:
        return self.parts.tokens

    @property
    def deferred(self) -> SqlKeptWork:
        return self.parts.kept

    @asynccontextmanager
    async def acting(self, who: PersonKey | str) -> AsyncIterator[GraphPim]:
        """The one user-mode Graph client, acting as `who` (a Slack user id will do)."""
        with self.parts.actor.acting_as(person(who)):
            yield self.parts.graph

    async def run(self, who: PersonKey | str, operation: Callable[[GraphPim], Awaitable[T]]) -> T:
        async with self.acting(who) as graph:
            return await operation(graph)

    async def finished(self) -> list[LoginOutcome]:
        """Every sign-in that ended so far (what the bot would tell the user about)."""
        seen = []
        while True:
            try:
                seen.append(await asyncio.wait_for(self.login.next_finished(), 0.05))
            except TimeoutError:
                return seen

    async def aclose(self) -> None:
        await self.login.aclose()
        await self.parts.aclose()


def build_signin(
    settings: Settings, store: SqlStore, resolver: Resolver, clock: FakeClock
) -> SignIn:
    parts = build_user_mode(settings, engine=store.engine, clock=clock)
    return SignIn(parts, parts.sign_ins(resolver, audit=store))


class Browser:
    """The user at the verification page: enters the code and signs in (over HTTPS)."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server

    async def sign_in(self, user_code: str, upn: str) -> None:
        async with httpx.AsyncClient(verify=trust(self.server.ca_file)) as http:
            response = await http.post(
                f"{self.server.url}/sandbox/device", json={"userCode": user_code, "user": upn}
            )
        assert response.status_code == 200, response.text


async def log_in(
    signin: SignIn, browser: Browser, who: PersonKey | str, upn: str | None
) -> LoginOutcome:
    """The whole `/pim login` round trip for one user; returns the outcome."""
    assert upn is not None
    key = person(who)
    prompt = await signin.login.start(key)
    await browser.sign_in(prompt.user_code, upn)
    outcome = await signin.login.wait(key)
    assert outcome is not None
    return outcome


def person(who: PersonKey | str) -> PersonKey:
    return who if isinstance(who, PersonKey) else slack(who)
