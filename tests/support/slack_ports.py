"""In-memory Slack-side ports for service tests: a directory of profiles and a notifier
that records what it was asked to send."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.domain.audit import AuditEvent
from bot.domain.requests import ActivationRecord
from bot.errors import UserNotMapped
from bot.service.ports import SlackProfile
from tests.support.cast import SLACK_USERS

PROFILES = {p.slack_id: SlackProfile(p.slack_id, p.email, p.tz, p.name) for p in SLACK_USERS}


class FakeDirectory:
    def __init__(self, usergroups: dict[str, frozenset[str]] | None = None) -> None:
        self.usergroups = usergroups or {}
        self.lookups = 0

    async def profile(self, slack_user_id: str) -> SlackProfile:
        self.lookups += 1
        if slack_user_id not in PROFILES:
            # As the real directory (handlers/notify.py) answers Slack's user_not_found.
            raise UserNotMapped(f"Slack doesn't know user <@{slack_user_id}>.")
        return PROFILES[slack_user_id]

    async def usergroup_members(self, usergroup_id: str) -> frozenset[str]:
        return self.usergroups.get(usergroup_id, frozenset())


@dataclass
class RecordingNotifier:
    dms: list[tuple[str, str]] = field(default_factory=list)
    audits: list[AuditEvent] = field(default_factory=list)
    reminders: list[tuple[str, datetime]] = field(default_factory=list)
    ended: list[tuple[str, str | None]] = field(default_factory=list)
    cards: dict[str, ActivationRecord] = field(default_factory=dict)
    decisions: list[tuple[str, str, str | None]] = field(default_factory=list)

    async def send_dm(
        self, slack_user_id: str, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> None:
        self.dms.append((slack_user_id, text))

    async def post_audit(self, event: AuditEvent) -> None:
        self.audits.append(event)

    async def remind(self, record: ActivationRecord, now: datetime) -> None:
        self.reminders.append((record.id, now))

    async def notify_ended(self, record: ActivationRecord, detail: str | None) -> None:
        self.ended.append((record.id, detail))

    async def post_approval_card(
        self, record: ActivationRecord, expires_at: datetime
    ) -> tuple[str, str] | None:
        self.cards[record.id] = record
        return ("C_PIM_APPROVALS", f"{len(self.cards)}.000100")

    async def update_approval_card(self, record: ActivationRecord) -> None:
        assert record.id in self.cards, "updating a card that was never posted"
        self.cards[record.id] = record

    async def notify_decision(self, record: ActivationRecord, error: str | None) -> None:
        self.decisions.append((record.id, record.state.value, error))
