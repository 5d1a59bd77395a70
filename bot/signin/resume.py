"""KeptWork: what a Slack user asked for while not signed in, kept until they are.

    outcome = await kept.run("U1", item, lambda: service.request_activation(...))
    # Not signed in, refresh token dead, or a step-up needed: the item is stored, a
    # sign-in code is DMed, and SignInPending (a PimError saying so) reaches the handler.
    ...
    for done in await kept.replay("U1"):   # once the login is LINKED: each item, in order

Items live in the database (`deferred_work`), so a restart between the click and the
sign-in loses nothing; each is dropped only after its replay has run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.audit import AuditKind, event_for
from bot.domain.durations import parse_duration
from bot.domain.models import Role
from bot.domain.requests import RequestState
from bot.errors import EXPIRED_MESSAGE, PimError, SignInRequired, StepUpRequired
from bot.service.activation import PimService
from bot.service.approvals import ApprovalService, Decision
from bot.service.outcomes import Outcome
from bot.service.ports import Notifier
from bot.signin.models import DeviceCodePrompt
from bot.signin.wiring import SignIn
from bot.store.deferred import Deferred

T = TypeVar("T")
ACTIVATION, REQUEST, DECISION = "activation", "request", "decision"
NeedsSignIn = SignInRequired | StepUpRequired
SENT = "I've sent you a sign-in code by direct message"
KEEP_FOR = timedelta(hours=1)  # then kept work is dropped and its user told
GAVE_UP = "the requester did not sign in to Microsoft Entra within an hour"


class SignInPending(PimError):
    """The user must sign in first; what they asked for is kept (the message says so)."""


@dataclass(frozen=True, slots=True)
class Replayed:
    """One kept item after its replay: an activation outcome, a decision, or why not."""

    item: Deferred
    outcome: Outcome | None = None
    decision: Decision | None = None
    error: str | None = None


def activation_item(
    slack_user_id: str, role: str, duration_iso: str, ticket: str | None, justification: str
) -> Deferred:
    data = {"role": role, "duration": duration_iso, "ticket": ticket or "", "why": justification}
    return Deferred(slack_user_id, ACTIVATION, f"{role}:{duration_iso}", data)


def decision_item(slack_user_id: str, request_id: str, approve: bool, reason: str) -> Deferred:
    data = {"review": "approve" if approve else "deny", "why": reason}
    return Deferred(slack_user_id, DECISION, request_id, data)


class KeptWork:
    """Keep, prompt, replay. The only place that starts a sign-in on a user's behalf."""

    def __init__(
        self,
        signin: SignIn,
        service: PimService,
        approvals: ApprovalService,
        notifier: Notifier,
    ) -> None:
        self._signin, self._svc, self._approvals = signin, service, approvals
        self._notifier = notifier

    async def run(
        self, slack_user_id: str, item: Deferred | None, call: Callable[[], Awaitable[T]]
    ) -> T:
        try:
            return await call()
        except (SignInRequired, StepUpRequired) as exc:
            kept = await self.wait_for_signin(slack_user_id, exc, item)
            raise SignInPending(pending_message(exc, kept)) from None

    async def wait_for_signin(
        self, slack_user_id: str, exc: NeedsSignIn, item: Deferred | None = None
    ) -> Deferred | None:
        """Store what waits (a released request wins over the item asked for) and DM a
        sign-in code; returns what was kept."""
        if exc.request_id is not None:
            item = Deferred(slack_user_id, REQUEST, exc.request_id)
        if item is not None:
            self._signin.deferred.keep(item, self._svc.clock.now())
        claims = exc.claims if isinstance(exc, StepUpRequired) else None
        await self.send_code(slack_user_id, claims=claims, again=claims is not None)
        return item

    async def send_code(
        self, slack_user_id: str, *, claims: str | None = None, again: bool = True
    ) -> DeviceCodePrompt | None:
        """Start a device-code sign-in and DM it. With `again` False, a code already out
        (a login still pending) is left alone rather than replaced."""
        if not again and self._signin.login.link_state(slack_user_id).pending:
            return None
        prompt = await self._signin.login.start_login(slack_user_id, claims=claims)
        tz = (await self._svc.identity.directory.profile(slack_user_id)).tz
        await self._notifier.send_dm(slack_user_id, prompt_text(prompt, tz))
        return prompt

    async def expire_due(self) -> int:
        """Drop what was kept longer than KEEP_FOR: a request replayed hours after it was
        asked would surprise everyone. The user is told; a stored request is failed."""
        now = self._svc.clock.now()
        stale = self._signin.deferred.kept_before(now - KEEP_FOR)
        for item in stale:
            self._signin.deferred.drop(item.slack_user_id, item.kind, item.ref)
            await self._notifier.send_dm(item.slack_user_id, await self._give_up(item, now))
        return len(stale)

    async def _give_up(self, item: Deferred, now: datetime) -> str:
        if item.kind == DECISION:
            verb = "approval" if item.data.get("review") == "approve" else "denial"
            return (
                f":hourglass: Your {verb} of `{item.ref}` was not applied: you hadn't signed "
                "in to Microsoft Entra within an hour. Click again once you're signed in."
            )
        what = f"to activate *{item.data.get('role', '')}*"
        if item.kind == REQUEST:
            record = self._svc.store.get_request(item.ref)
            waiting = frozenset({RequestState.REQUESTED, RequestState.APPROVED})
            failed = self._svc.store.transition(
                item.ref, waiting, RequestState.FAILED, error=GAVE_UP
            )
            if failed is not None:
                event = event_for(
                    AuditKind.ACTIVATION_FAILED,
                    failed,
                    at=now,
                    actor=item.slack_user_id,
                    detail=GAVE_UP,
                )
                await self._svc.record_audit(event)
            what = f"`{item.ref}`" + (f" for *{record.role_name}*" if record else "")
        return (
            f":hourglass: I dropped your request {what}: you hadn't signed in to Microsoft "
            "Entra within an hour. Ask again once you're signed in (`/pim login`)."
        )

    async def replay(self, slack_user_id: str) -> list[Replayed]:
        """Run everything kept for the user (they have just signed in), oldest first."""
        done = []
        for item in self._signin.deferred.waiting(slack_user_id):
            result, kept = await self._replay_safely(item)
            if kept != item:
                self._signin.deferred.drop(item.slack_user_id, item.kind, item.ref)
            done.append(result)
        return done

    async def _replay_safely(self, item: Deferred) -> tuple[Replayed, Deferred | None]:
        try:
            return await self._replay(item), None
        except (SignInRequired, StepUpRequired) as exc:
            kept = await self.wait_for_signin(item.slack_user_id, exc, item)
            return Replayed(item, error=pending_message(exc, kept)), kept
        except PimError as exc:
            return Replayed(item, error=exc.user_message), None

    async def _replay(self, item: Deferred) -> Replayed:
        user, data = item.slack_user_id, item.data
        if item.kind == ACTIVATION:
            outcome = await self._svc.request_activation(
                user,
                data["role"],
                parse_duration(data["duration"]),
                data["ticket"] or None,
                data["why"],
            )
            return Replayed(item, outcome=outcome)
        if item.kind == REQUEST:
            return Replayed(item, outcome=await self._resume_request(item))
        if data.get("review") == "approve":
            return Replayed(item, decision=await self._approvals.approve(item.ref, user))
        return Replayed(item, decision=await self._approvals.deny(item.ref, user, data["why"]))

    async def _resume_request(self, item: Deferred) -> Outcome:
        record = self._svc.request_for(item.slack_user_id, item.ref)
        if record.state not in (RequestState.REQUESTED, RequestState.APPROVED):
            state = record.state.value.replace("_", " ")
            raise SignInPendingGone(f"Request `{record.id}` is {state}: nothing to resume.")
        with self._svc.actors.acting_as(item.slack_user_id):
            requester = await self._svc.identity.resolve(item.slack_user_id)
        return await self._svc.activate_record(
            requester, Role(record.role_id, record.role_name), record
        )


class SignInPendingGone(PimError):
    """A kept request that something else settled meanwhile (cancelled, expired...)."""


def pending_message(exc: NeedsSignIn, kept: Deferred | None) -> str:
    if isinstance(exc, StepUpRequired):
        return (
            "This role needs a stronger sign-in (for example multi-factor authentication). "
            f"{SENT}; your request goes ahead once you have used it."
        )
    expired = exc.user_message == EXPIRED_MESSAGE
    first = (
        "Your Microsoft Entra sign-in has expired or was revoked."
        if expired
        else "You need to sign in to Microsoft Entra first."
    )
    if kept is None:
        return f"{first} {SENT}; run the command again once you have signed in."
    if kept.kind == DECISION:
        return f"{first} {SENT}; your decision is kept and applied once you have signed in."
    return f"{first} {SENT}; your request is kept and goes ahead once you have signed in."


def prompt_text(prompt: DeviceCodePrompt, tz: str | None = None) -> str:
    """The DM with the code; its expiry in the user's Slack time zone, like every other
    time the bot shows them."""
    why = (
        "Sign in to Microsoft Entra again with a stronger method (for example MFA)"
        if prompt.step_up
        else "Sign in to Microsoft Entra"
    )
    return (
        f":key: *{why}*: open <{prompt.verification_uri}> and enter the code "
        f"`{prompt.user_code}` (valid until {_local(prompt.expires_at, tz)}). "
        "Only use a code you asked for: pimbot never asks for your password."
    )


def _local(at: datetime, tz: str | None) -> str:
    try:
        zone = ZoneInfo(tz) if tz else UTC
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    return at.astimezone(zone).strftime("%H:%M %Z")
