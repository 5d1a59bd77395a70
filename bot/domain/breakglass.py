"""Break-glass: an activation made at once in an emergency, then ratified or ended."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.people import PersonKey

DAY = timedelta(hours=24)


class GlassState(StrEnum):
    """awaiting → ratified (enough approvers agreed in time) | revoked (an approver ended
    it) | lapsed (not ratified in time: pimbot ends it)."""

    AWAITING = "awaiting"
    RATIFIED = "ratified"
    REVOKED = "revoked"
    LAPSED = "lapsed"


@dataclass(frozen=True, slots=True)
class Ratification:
    person: PersonKey
    at: datetime


@dataclass(frozen=True, slots=True)
class BreakGlassRecord:
    """The break-glass facts of one request (`request_id`): when its activation started,
    by when it must be ratified, by how many approvers, and how it was settled. `end_at`
    is when pimbot ends it once revoked or lapsed (never inside Entra's first 5 minutes);
    `ended_at` when it did."""

    request_id: str
    requester: PersonKey
    started_at: datetime
    ratify_by: datetime
    required: int
    state: GlassState
    ratified_by: tuple[Ratification, ...] = ()
    settled_by: PersonKey | None = None
    settled_at: datetime | None = None
    end_at: datetime | None = None
    ended_at: datetime | None = None
    alert: str | None = None  # where the alert is: a reference only the front end reads
    error: str | None = None

    def with_changes(self, **changes: object) -> BreakGlassRecord:
        return replace(self, **changes)  # type: ignore[arg-type]

    def ratified_by_person(self, person: PersonKey) -> bool:
        return any(r.person == person for r in self.ratified_by)


def uses_left(started: list[datetime], limit: int, now: datetime) -> tuple[int, datetime | None]:
    """Of `limit` break-glass uses in any rolling 24 hours: how many were used in the last
    24 hours, and when the next is possible (None: now)."""
    recent = sorted(t for t in started if now - DAY < t <= now)
    if len(recent) < limit:
        return len(recent), None
    return len(recent), recent[len(recent) - limit] + DAY
