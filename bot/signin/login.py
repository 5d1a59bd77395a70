"""LoginService: `/pim login` by MSAL's device-code flow, polled in the background.

    prompt = await login.start("U123")   # send the code and URL to the user
    ...                                  # the user signs in within 15 minutes
    outcome = await login.next_finished()   # LINKED, MISMATCH, EXPIRED or FAILED

The signed-in account must be the Entra user the person maps to (`bot.service.identity`: the
config map, else the verified email), compared by object id (or UPN if the token has
none). A mismatch is refused, nothing is stored, and the refusal is audited.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

import msal

from bot.clock import Clock
from bot.domain.people import PersonKey
from bot.errors import GraphUnavailable, PimError
from bot.service.identity import Requester
from bot.service.ports import PimGraph
from bot.service.signins import DeviceCodePrompt, LinkState, LoginOutcome, LoginResult
from bot.signin.msal_app import PublicApps
from bot.signin.pending import PendingFlows
from bot.signin.tokens import UserTokens
from bot.signin.verify import AccountCheck, AuditLog, why_blocked

log = logging.getLogger(__name__)


class Resolver(Protocol):
    """Who a person is in Entra (`bot.service.identity.IdentityResolver`)."""

    async def precheck(self, person: PersonKey) -> None: ...

    async def resolve_with(self, person: PersonKey, graph: PimGraph) -> Requester: ...


GraphWithToken = Callable[[str], PimGraph]


@dataclass(slots=True)
class _Pending:
    flow: dict[str, Any]
    task: asyncio.Task[LoginOutcome] | None = None
    cancelled: bool = field(default=False)


class LoginService:
    """Implements bot.service.signins.SignIns: start, finish and forget per-user sign-ins,
    one pending at a time per user; each that ends is queued for `next_finished`."""

    def __init__(
        self,
        apps: PublicApps,
        tokens: UserTokens,
        resolver: Resolver,
        audit: AuditLog,
        clock: Clock,
        *,
        graph_with: GraphWithToken,
        flows: PendingFlows | None = None,
        health: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._apps, self._tokens, self._resolver = apps, tokens, resolver
        self._graph_with = graph_with  # a Graph client on one access token
        self._flows = flows  # None: sign-ins in progress do not survive a restart
        self._audit, self._clock = audit, clock
        self._finished: asyncio.Queue[LoginOutcome] = asyncio.Queue()
        self._health = health
        self._verify = AccountCheck(tokens, audit, clock)
        self._pending: dict[PersonKey, _Pending] = {}
        self._latest: dict[PersonKey, asyncio.Task[LoginOutcome]] = {}  # kept once done, for wait()

    async def start(self, person: PersonKey, *, claims: str | None = None) -> DeviceCodePrompt:
        """Begin a device-code sign-in (asking for `claims` after a StepUpRequired).
        Raises UserNotMapped before any sign-in if there is nothing to map the person by
        (which Entra user they are is looked up with the new sign-in's own token)."""
        import requests

        await self._resolver.precheck(person)
        self._cancel(person)
        cache = msal.SerializableTokenCache()
        try:
            app = await asyncio.to_thread(self._apps.build, cache)
            flow = await asyncio.to_thread(
                app.initiate_device_flow, self._apps.scopes, claims_challenge=claims
            )
        except (requests.RequestException, ValueError) as exc:
            raise GraphUnavailable(
                f"The Microsoft Entra login service is not responding ({type(exc).__name__}).",
                code="loginUnavailable",
            ) from exc
        if "user_code" not in flow:
            raise GraphUnavailable(
                why_blocked(flow)
                or f"Microsoft Entra would not start a sign-in ({flow.get('error', 'error')}).",
                code=str(flow.get("error", "deviceCodeFailed")),
            )
        if self._flows is not None:
            self._flows.keep(person, flow, claims)
        self._begin_poll(person, app, cache, flow, claims)
        return DeviceCodePrompt(
            user_code=flow["user_code"],
            verification_uri=flow["verification_uri"],
            message=flow["message"],
            expires_at=datetime.fromtimestamp(float(flow["expires_at"]), UTC),
            step_up=claims is not None,
        )

    async def resume(self) -> int:
        """After a restart: poll again for every sign-in whose code still works."""
        if self._flows is None:
            return 0
        # Wall time, not the bot's clock (which the local workspace can fast-forward):
        # the code expires at Entra, and MSAL's poll loop measures it with time.time().
        waiting = self._flows.waiting(time.time())
        for item in waiting:
            cache = msal.SerializableTokenCache()
            app = await asyncio.to_thread(self._apps.build, cache)
            self._begin_poll(item.person, app, cache, item.flow, item.claims)
        return len(waiting)

    def _begin_poll(
        self,
        person: PersonKey,
        app: msal.PublicClientApplication,
        cache: msal.SerializableTokenCache,
        flow: dict[str, Any],
        claims: str | None,
    ) -> None:
        pending = _Pending(flow)
        self._pending[person] = pending
        pending.task = asyncio.create_task(self._poll(person, app, cache, pending, claims))
        self._latest[person] = pending.task

    async def wait(self, person: PersonKey) -> LoginOutcome | None:
        """The outcome of the user's latest login, once it ends (None if they never began)."""
        task = self._latest.get(person)
        return None if task is None else await task

    def logout(self, person: PersonKey) -> bool:
        """Forget the user's tokens (and stop a pending login); True if they had tokens."""
        self._cancel(person)
        return self._tokens.forget(person)

    async def next_finished(self) -> LoginOutcome:
        return await self._finished.get()

    async def check(self) -> None:
        """Is Entra's sign-in service answering? (GraphUnavailable if not.)"""
        if self._health is not None:
            await self._health()

    def state(self, person: PersonKey) -> LinkState:
        state = self._tokens.state(person)
        if person in self._pending:
            return replace(state, pending=True)
        return state

    async def aclose(self) -> None:
        """Stop polling (shutdown); the stored flows are resumed by the next start."""
        tasks = [p.task for p in self._pending.values() if p.task is not None]
        for person in list(self._pending):
            self._cancel(person, forget=False)
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _finish(
        self,
        person: PersonKey,
        cache: msal.SerializableTokenCache,
        result: dict[str, Any],
        step_up: bool,
    ) -> LoginOutcome:
        if "access_token" not in result:
            return self._verify.not_signed_in(person, result)
        graph = self._graph_with(str(result["access_token"]))
        try:
            requester = await self._resolver.resolve_with(person, graph)
        except PimError as exc:  # e.g. no Entra user has the Slack profile's email
            return LoginOutcome(person, LoginResult.FAILED, exc.user_message)
        finally:
            await graph.aclose()
        return self._verify.finish(requester, cache, result, step_up=step_up)

    def _cancel(self, person: PersonKey, *, forget: bool = True) -> None:
        if forget and self._flows is not None:
            self._flows.forget(person)
        pending = self._pending.pop(person, None)
        if pending is not None:
            pending.cancelled = True
            pending.flow["expires_at"] = 0  # MSAL's poll loop stops within a second

    async def _poll(
        self,
        person: PersonKey,
        app: msal.PublicClientApplication,
        cache: msal.SerializableTokenCache,
        pending: _Pending,
        claims: str | None,
    ) -> LoginOutcome:
        try:
            result = await asyncio.to_thread(
                app.acquire_token_by_device_flow, pending.flow, claims_challenge=claims
            )
            if pending.cancelled:
                outcome = LoginOutcome(person, LoginResult.CANCELLED, "Replaced.")
            else:
                outcome = await self._finish(person, cache, result, bool(claims))
        except Exception as exc:  # noqa: BLE001 - a background task must report, not vanish
            log.warning("device-code login for %s failed: %s", person, type(exc).__name__)
            outcome = LoginOutcome(
                person,
                LoginResult.FAILED,
                "Signing you in failed on our side. Please run `/pim login` again.",
            )
        if self._pending.get(person) is pending:
            del self._pending[person]
        if outcome.result is not LoginResult.CANCELLED and self._flows is not None:
            self._flows.forget(person)  # (a replacing login's row has the same key)
        if outcome.result is not LoginResult.CANCELLED:
            self._finished.put_nowait(outcome)
        return outcome
