"""In-memory Slack-side ports for service tests: a directory of profiles and a notifier
that records what it was asked to send."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.approvals import Asked, Tally
from bot.domain.audit import AuditEvent
from bot.domain.breakglass import BreakGlassRecord
from bot.domain.drift import OutsideActivity, Readiness
from bot.domain.models import ApproverRef
from bot.domain.nudges import Audience
from bot.domain.people import PersonKey, slack
from bot.domain.requests import ActivationRecord
from bot.errors import UserNotMapped
from bot.service.outbox import Letter
from bot.service.outcomes import Dropped, Overview, Replayed
from bot.service.ports import Nudge, Profile
from bot.service.signins import DeviceCodePrompt, LinkState, LoginOutcome
from tests.support.cast import SLACK_USERS

PROFILES = {
    p.slack_id: Profile(
        slack(p.slack_id),
        p.email,
        p.tz,
        p.name,
        active=p.active,
        kind=p.kind,
        external=p.team is not None,
        email_confirmed=p.email_confirmed,
    )
    for p in SLACK_USERS
}


class FakeDirectory:
    """The People port over the cast's profiles; `profiles` replaces or adds some (a bot,
    an unconfirmed email, someone deactivated since), as the chat would answer them."""

    def __init__(
        self,
        usergroups: dict[str, frozenset[str]] | None = None,
        profiles: dict[str, Profile] | None = None,
    ) -> None:
        self.usergroups = usergroups or {}
        self.profiles = PROFILES | (profiles or {})
        self.lookups = 0

    async def profile(self, person: PersonKey) -> Profile:
        self.lookups += 1
        if person.chat_user_id not in self.profiles:
            # As the real directory (handlers/people.py) answers Slack's user_not_found.
            raise UserNotMapped(f"Slack doesn't know user {person.chat_user_id}.")
        return self.profiles[person.chat_user_id]

    async def usergroup_members(self, usergroup_id: str) -> frozenset[str]:
        return self.usergroups.get(usergroup_id, frozenset())


@dataclass
class RecordingNotifier:
    """Implements bot.service.ports.Notifier: each fact it is told, recorded as told."""

    facts: list[tuple[PersonKey, str, object]] = field(default_factory=list)  # (who, kind, fact)
    audits: list[AuditEvent] = field(default_factory=list)
    reminders: list[tuple[str, datetime]] = field(default_factory=list)
    ended: list[tuple[str, str | None]] = field(default_factory=list)
    cards: dict[str, ActivationRecord] = field(default_factory=dict)
    decisions: list[tuple[str, str, str | None]] = field(default_factory=list)
    outside: list[OutsideActivity] = field(default_factory=list)

    def audit_lines(self, events: list[AuditEvent]) -> list[Letter]:
        self.audits.extend(events)
        return []  # no chat here: nothing to queue beside the rows

    async def send_audit_lines(self) -> None:
        pass

    async def remind(self, record: ActivationRecord, now: datetime) -> None:
        self.reminders.append((record.id, now))

    async def remind_many(
        self, reminders: list[tuple[ActivationRecord, str]], now: datetime
    ) -> None:
        for record, _ in reminders:
            await self.remind(record, now)

    async def notify_ended(self, record: ActivationRecord, detail: str | None) -> None:
        self.ended.append((record.id, detail))

    async def post_approval_card(
        self, record: ActivationRecord, expires_at: datetime, asked: Asked | None = None
    ) -> str | None:
        self.cards[record.id] = record
        return f"C_PIM_APPROVALS {len(self.cards)}.000100"

    async def update_approval_card(
        self, record: ActivationRecord, tally: Tally | None = None
    ) -> None:
        assert record.id in self.cards, "updating a card that was never posted"
        self.cards[record.id] = record

    async def ping_approvers(
        self, record: ActivationRecord, audience: Audience, nudge: Nudge
    ) -> None:
        self.facts.append((record.requester, "ping_approvers", (record.id, audience, nudge)))

    async def notify_decision(self, record: ActivationRecord, error: str | None) -> None:
        self.decisions.append((record.id, record.state.value, error))

    async def approved_then_entra(self, record: ActivationRecord) -> None:
        self.facts.append((record.requester, "approved_then_entra", record))

    async def activation_settled(self, record: ActivationRecord) -> None:
        self.facts.append((record.requester, "activation_settled", record))

    async def readiness(
        self, record: ActivationRecord, progress: Readiness, *, first: bool
    ) -> None:
        self.facts.append((record.requester, "readiness", progress))

    async def readiness_late(self, record: ActivationRecord, progress: Readiness) -> None:
        self.facts.append((record.requester, "readiness_late", progress))

    async def outside_pimbot(self, seen: OutsideActivity) -> None:
        self.outside.append(seen)

    async def sign_in_code(self, person: PersonKey, prompt: DeviceCodePrompt) -> None:
        self.facts.append((person, "sign_in_code", prompt))

    async def signed_in(self, outcome: LoginOutcome) -> None:
        self.facts.append((outcome.person, "signed_in", outcome))

    async def replayed(self, person: PersonKey, done: list[Replayed]) -> None:
        self.facts.append((person, "replayed", done))

    async def kept_work_dropped(self, person: PersonKey, dropped: Dropped) -> None:
        self.facts.append((person, "kept_work_dropped", dropped))

    async def home_changed(
        self, person: PersonKey, overview: Overview | None, link: LinkState | None
    ) -> None:
        self.facts.append((person, "home_changed", (overview, link)))

    async def post_glass_alert(
        self, record: ActivationRecord, glass: BreakGlassRecord, approvers: tuple[ApproverRef, ...]
    ) -> str | None:
        self.facts.append((record.requester, "glass_alert", (glass, approvers)))
        return f"C_PIM_APPROVALS glass.{record.id}"

    async def update_glass_alert(self, record: ActivationRecord, glass: BreakGlassRecord) -> None:
        self.facts.append((record.requester, "glass_alert_updated", glass))

    async def glass_settled(self, record: ActivationRecord, glass: BreakGlassRecord) -> None:
        self.facts.append((record.requester, "glass_settled", glass))

    def told(self, kind: str) -> list[tuple[PersonKey, object]]:
        """(who, fact) for every fact of one kind, in order."""
        return [(who, fact) for who, k, fact in self.facts if k == kind]
