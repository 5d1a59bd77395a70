"""Work kept while a user must sign in (user mode): the command itself, until they have.

    try: await pimbot.handle("U1", command)
    # Not signed in, refresh token dead, or a step-up needed: the command is stored, a
    # sign-in code is sent, and SignInPending (a PimError saying so) reaches the front end.
    ...
    # once the sign-in is LINKED, the dispatcher replays what was kept, oldest first

Items live in the database, so a restart between the click and the sign-in loses
nothing; each is dropped only after its replay has run. Kept work older than an hour is
dropped and its user told: a request replayed hours after it was asked would surprise.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.domain.audit import AuditKind, event_for
from bot.domain.command_codec import decode, encode
from bot.domain.command_types import Activate, Approve, Command, Deny, ResumeRequest
from bot.domain.durations import to_iso
from bot.domain.people import PersonKey
from bot.domain.requests import RequestState
from bot.errors import PimError
from bot.service.deps import Deps
from bot.service.outcomes import Dropped
from bot.service.signins import (
    EXPIRED_MESSAGE,
    DeviceCodePrompt,
    KeptItem,
    KeptStore,
    SignInRequired,
    SignIns,
    StepUpRequired,
)

NeedsSignIn = SignInRequired | StepUpRequired
KEEP_FOR = timedelta(hours=1)
GAVE_UP = "the requester did not sign in to Microsoft Entra within an hour"
SENT = "I've sent you a sign-in code by direct message"


class SignInPending(PimError):
    """The user must sign in first; what they asked for is kept (the message says so)."""


def item_for(person: PersonKey, command: Command) -> KeptItem:
    """One row per user and thing asked: a second click on one card replaces the first."""
    match command:
        case Approve(request_id=rid) | Deny(request_id=rid):
            kind, ref = "decision", rid
        case ResumeRequest(request_id=rid):
            kind, ref = "request", rid
        case Activate(role=role, duration=duration):
            kind, ref = "activation", f"{role}:{to_iso(duration)}"
        case _:
            kind, ref = "command", type(command).__name__
    return KeptItem(person, kind, ref, encode(command))


class Keeper:
    """Keep, prompt, expire. The only place that starts a sign-in on a user's behalf."""

    def __init__(self, signins: SignIns, kept: KeptStore, deps: Deps) -> None:
        self._signins, self._kept, self._d = signins, kept, deps

    async def keep(
        self, person: PersonKey, exc: NeedsSignIn, command: Command | None = None
    ) -> KeptItem | None:
        """Store what waits (a released stored request wins over the command asked for)
        and send a sign-in code; returns what was kept."""
        if exc.request_id is not None:
            command = ResumeRequest(exc.request_id)
        item = item_for(person, command) if command is not None else None
        if item is not None:
            self._kept.keep(item, self._d.clock.now())
        claims = exc.claims if isinstance(exc, StepUpRequired) else None
        await self.send_code(person, claims=claims, again=claims is not None)
        return item

    async def send_code(
        self, person: PersonKey, *, claims: str | None = None, again: bool = True
    ) -> DeviceCodePrompt | None:
        """Start a device-code sign-in and send it. With `again` False, a code already
        out (a sign-in still pending) is left alone rather than replaced."""
        if not again and self._signins.state(person).pending:
            return None
        prompt = await self._signins.start(person, claims=claims)
        await self._d.notifier.sign_in_code(person, prompt)
        return prompt

    def waiting(self, person: PersonKey) -> list[tuple[KeptItem, Command]]:
        return [(item, decode(item.data)) for item in self._kept.waiting(person)]

    def done(self, item: KeptItem) -> None:
        self._kept.drop(item.person, item.kind, item.ref)

    async def expire_due(self) -> int:
        """Drop what was kept longer than KEEP_FOR; the user is told, a stored request
        that waited is failed (audited)."""
        now = self._d.clock.now()
        stale = self._kept.kept_before(now - KEEP_FOR)
        for item in stale:
            self.done(item)
            dropped = await self._give_up(item, decode(item.data), now)
            await self._d.notifier.kept_work_dropped(item.person, dropped)
        return len(stale)

    async def _give_up(self, item: KeptItem, command: Command, now: datetime) -> Dropped:
        if not isinstance(command, ResumeRequest):
            return Dropped(command)
        waiting = frozenset({RequestState.REQUESTED, RequestState.APPROVED})
        failed = self._d.store.transition(
            command.request_id, waiting, RequestState.FAILED, error=GAVE_UP
        )
        if failed is None:
            return Dropped(command, self._d.store.get_request(command.request_id))
        event = event_for(
            AuditKind.ACTIVATION_FAILED, failed, at=now, actor=item.person, detail=GAVE_UP
        )
        await self._d.audit.record(event)
        return Dropped(command, failed)


def pending_message(exc: NeedsSignIn, kept: KeptItem | None) -> str:
    """What the user is told when their command waits for a sign-in."""
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
    if kept.kind == "decision":
        return f"{first} {SENT}; your decision is kept and applied once you have signed in."
    return f"{first} {SENT}; your request is kept and goes ahead once you have signed in."
