"""Acting as a user (signed-in-user mode): who the running task acts for, and the one
`httpx.Auth` that puts that user's delegated token on every Graph request.

    with actor.acting_as("U123"):          # the dispatcher does this once per command
        await graph.activate(spec)         # Bearer: U123's token, from their MSAL cache

A claims challenge (401 `insufficient_claims`, or PIM's 400
`RoleAssignmentRequestAcrsValidationFailed`) is answered once silently with the claims
(enough after CAE events, or when the user's session already satisfied them); if Entra
needs the user, `StepUpRequired` reaches the caller, who starts a step-up sign-in.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Generator, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import httpx

from bot.domain.people import PersonKey
from bot.graph.auth import AccessToken, CountedTokens, TokenSource
from bot.service.signins import StepUpRequired
from bot.signin.challenge import claims_from_response
from bot.signin.credential import UserTokenSource
from bot.signin.msal_app import PublicApps
from bot.signin.tokens import UserTokens


class NobodyActing(RuntimeError):
    """A Graph call was made in user mode outside any `acting_as` block (a bug)."""


class ActingUser:
    """Implements bot.service.ports.Actors: whom the running task's Graph calls act as."""

    def __init__(self) -> None:
        # Per instance, not per module: each wired bot has its own notion of "who".
        self._who: ContextVar[PersonKey | None] = ContextVar("pimbot_actor", default=None)

    @contextmanager
    def acting_as(self, person: PersonKey) -> Iterator[None]:
        token = self._who.set(person)
        try:
            yield
        finally:
            self._who.reset(token)

    def current(self) -> PersonKey:
        who = self._who.get()
        if who is None:
            raise NobodyActing("user mode: a Graph call with no acting user")
        return who


class ActingAuth(httpx.Auth):
    """Bearer token of whoever is acting; one refresh on 401, one silent claims retry."""

    requires_response_body = True  # PIM's ACRS challenge is in a 400's body

    def __init__(
        self,
        apps: PublicApps,
        tokens: UserTokens,
        actor: ActingUser,
        *,
        observe: Callable[[str, float], None] | None = None,
    ) -> None:
        # No token is kept here: each request asks the user's own MSAL cache (which
        # holds the access token until it expires), so a sign-out takes effect at once.
        # `observe`: told of each acquisition (bot.graph.auth.CountedTokens).
        self._apps, self._tokens, self._actor = apps, tokens, actor
        self._observe = observe

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        who = self._actor.current()
        request.headers["Authorization"] = f"Bearer {await self._token(who)}"
        response = yield request
        # Overriding async_auth_flow skips httpx's own read for requires_response_body.
        await response.aread()
        claims = claims_from_response(response)
        if claims is None and response.status_code != 401:
            return
        # A stale token (401) or a claims challenge: once more with a fresh token, asking
        # for the claims; MSAL raises StepUpRequired if only the user can satisfy them.
        token = await self._token(who, claims=claims, force=True)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        await response.aread()
        again = claims_from_response(response)
        if again is not None:
            raise StepUpRequired(again, who)

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        raise RuntimeError("ActingAuth works with httpx.AsyncClient only")
        yield request  # pragma: no cover - makes this a generator, as httpx expects

    async def _token(
        self, who: PersonKey, *, claims: str | None = None, force: bool = False
    ) -> str:
        source: TokenSource = UserTokenSource(self._apps, self._tokens, who, claims)
        if self._observe is not None:
            source = CountedTokens(source, self._observe)
        # MSAL does blocking HTTP and the cache is decrypted: off the event loop.
        fetched: AccessToken = await asyncio.to_thread(source, force_refresh=force)
        return fetched.token
