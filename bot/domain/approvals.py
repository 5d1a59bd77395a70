"""Four eyes: the approvals a request has gathered, whom its card asks, and the shorter
durations an approver may approve instead of the one asked for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.people import PersonKey
from bot.domain.requests import ActivationRecord

# The shortest approval offered. Well above Entra's 5-minute floor on deactivation
# (ActiveDurationTooShort), so an approved activation can still be ended early.
MIN_APPROVED = timedelta(minutes=30)
_CHOICES = tuple(timedelta(hours=h) for h in (0.5, 1, 2, 4, 8))


@dataclass(frozen=True, slots=True)
class Approval:
    """One approver's Approve, and the duration they approved (at most the request's)."""

    approver: PersonKey
    at: datetime
    duration: timedelta


@dataclass(frozen=True, slots=True)
class Tally:
    """The distinct approvals so far against the number the role requires."""

    approvals: tuple[Approval, ...]
    required: int

    @property
    def complete(self) -> bool:
        return len(self.approvals) >= self.required

    def approved_by(self, person: PersonKey) -> bool:
        return any(a.approver == person for a in self.approvals)

    def duration(self, asked: timedelta) -> timedelta:
        """What the approvers agreed to: the shortest any of them approved."""
        return min([asked, *(a.duration for a in self.approvals)])


@dataclass(frozen=True, slots=True)
class Asked:
    """Whom an approval card asks: live approvers, as chat users and chat user groups."""

    people: tuple[PersonKey, ...] = ()
    groups: tuple[str, ...] = ()
    required: int = 1  # distinct approvals the role needs


def approve_for_choices(asked: timedelta) -> list[timedelta]:
    """The durations an approver may approve: the usual lengths below the request, then
    the request itself (never more)."""
    return [d for d in _CHOICES if MIN_APPROVED <= d < asked] + [asked]


def approvable(duration: timedelta, asked: timedelta) -> bool:
    """A duration an approver may choose for a request of `asked` (checked on the server:
    the click's value is only a choice among these)."""
    return duration == asked or MIN_APPROVED <= duration < asked


@dataclass(frozen=True, slots=True)
class Counted:
    """An Approve as the store counted it: the record (still pending, or approved by
    this very click) and the tally; `new` False when this approver had approved already."""

    record: ActivationRecord
    tally: Tally
    new: bool
