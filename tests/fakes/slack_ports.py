"""In-memory Slack-side ports for service tests: a directory of profiles and a notifier
that records what it was asked to send."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.audit import AuditEvent
from bot.domain.people import PersonKey, slack
from bot.domain.requests import ActivationRecord
from bot.errors import PimError
from bot.service.outcomes import Dropped, Overview, Replayed
from bot.service.ports import Profile
from bot.service.signins import DeviceCodePrompt, LinkState, LoginOutcome

TENANT = "m365x435773.onmicrosoft.com"
PROFILES = {
    "U_ALINE": Profile(slack("U_ALINE"), f"AlineD@{TENANT}", "Europe/Paris", "Aline Dupuy"),
    "U_ADMIN": Profile(
        slack("U_ADMIN"), f"admin@{TENANT}", "America/New_York", "MOD Administrator"
    ),
    "U_MEGAN": Profile(slack("U_MEGAN"), f"MeganB@{TENANT}", "UTC", "Megan Bowen"),
    "U_ALEX": Profile(slack("U_ALEX"), f"AlexW@{TENANT}", "UTC", "Alex Wilber"),
    "U_NOMAIL": Profile(slack("U_NOMAIL"), None, "UTC", "No Mail"),
    "U_STRANGER": Profile(slack("U_STRANGER"), "stranger@example.com", "UTC", "Stranger"),
}


class FakeDirectory:
    def __init__(self, usergroups: dict[str, frozenset[str]] | None = None) -> None:
        self.usergroups = usergroups or {}
        self.lookups = 0

    async def profile(self, person: PersonKey) -> Profile:
        self.lookups += 1
        if person.chat_user_id not in PROFILES:
            raise PimError(f"Slack doesn't know user {person.chat_user_id}.")
        return PROFILES[person.chat_user_id]

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

    async def post_audit(self, event: AuditEvent) -> None:
        self.audits.append(event)

    async def remind(self, record: ActivationRecord, now: datetime) -> None:
        self.reminders.append((record.id, now))

    async def notify_ended(self, record: ActivationRecord, detail: str | None) -> None:
        self.ended.append((record.id, detail))

    async def post_approval_card(
        self, record: ActivationRecord, expires_at: datetime
    ) -> str | None:
        self.cards[record.id] = record
        return f"C_PIM_APPROVALS {len(self.cards)}.000100"

    async def update_approval_card(self, record: ActivationRecord) -> None:
        assert record.id in self.cards, "updating a card that was never posted"
        self.cards[record.id] = record

    async def notify_decision(self, record: ActivationRecord, error: str | None) -> None:
        self.decisions.append((record.id, record.state.value, error))

    async def approved_then_entra(self, record: ActivationRecord) -> None:
        self.facts.append((record.requester, "approved_then_entra", record))

    async def activation_settled(self, record: ActivationRecord) -> None:
        self.facts.append((record.requester, "activation_settled", record))

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

    def told(self, kind: str) -> list[tuple[PersonKey, object]]:
        """(who, fact) for every fact of one kind, in order."""
        return [(who, fact) for who, k, fact in self.facts if k == kind]
