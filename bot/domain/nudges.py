"""Nobody waiting in silence: when an undecided request re-pings its approvers, and when
it escalates. Pure: the service claims each ping in the store and the front end words it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.models import ApproverKind, ApproverRef
from bot.domain.people import PersonKey
from bot.domain.rules import ApproverNames

# The doubling stops growing here: past it, pings are this far apart (a request waits
# at most its approval timeout anyway; this keeps the arithmetic small).
MAX_DOUBLINGS = 16


class PingKind(StrEnum):
    REMIND = "remind"  # the approvers again
    ESCALATE = "escalate"  # `escalate_to`, once


@dataclass(frozen=True, slots=True)
class Pinged:
    """What was sent for one request: how many re-pings, the sequence number of the
    last (-1: none yet), and whether it escalated."""

    reminded: int = 0
    last: int = -1
    escalated: bool = False


@dataclass(frozen=True, slots=True)
class Ping:
    """One ping to send: which kind, and its sequence number (its claim in the store)."""

    kind: PingKind
    seq: int


@dataclass(frozen=True, slots=True)
class Audience:
    """Whom a ping mentions: people, and chat user groups (by the chat's id)."""

    people: tuple[PersonKey, ...] = ()
    groups: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.people or self.groups)


def reminder_due(created_at: datetime, first: timedelta, seq: int) -> datetime:
    """When re-ping number `seq` (from 0) falls due: `first` after the request, then each
    interval twice the one before (15m: at 15, 45, 105, 225 min…)."""
    intervals: int = 2 ** min(seq + 1, MAX_DOUBLINGS) - 1
    return created_at + first * intervals


def latest_reminder(created_at: datetime, first: timedelta, now: datetime) -> int:
    """The sequence number of the last re-ping due by `now` (-1: none yet)."""
    seq = -1
    while reminder_due(created_at, first, seq + 1) <= now:
        seq += 1
    return seq


def pings_due(
    created_at: datetime,
    now: datetime,
    pinged: Pinged,
    first: timedelta,
    escalate_after: timedelta | None,
) -> list[Ping]:
    """What falls due now. Re-pings missed while the bot was down are not sent in a burst:
    only the latest one due is, and the next is counted on from the request as usual."""
    due: list[Ping] = []
    latest = latest_reminder(created_at, first, now)
    if latest > pinged.last:
        due.append(Ping(PingKind.REMIND, latest))
    if escalate_after is not None and not pinged.escalated and created_at + escalate_after <= now:
        due.append(Ping(PingKind.ESCALATE, 0))
    return due


def approver_refs(names: ApproverNames) -> tuple[ApproverRef, ...]:
    """pimbot.yml's approver forms (`approvers:`, `escalate_to:`) as references."""
    return (
        *(ApproverRef(ApproverKind.SLACK_USER, i) for i in names.slack_users),
        *(ApproverRef(ApproverKind.SLACK_USERGROUP, i) for i in names.slack_usergroups),
        *(ApproverRef(ApproverKind.ENTRA_USER, i) for i in names.entra_users),
        *(ApproverRef(ApproverKind.ENTRA_GROUP, i) for i in names.entra_groups),
    )
