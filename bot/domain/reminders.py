"""When to remind a requester before an activation ends, and when to say it ended.

Pure functions of the activation's window, the lead times and now: APScheduler only
triggers what this plans. Reminder ids are stable, so planning again (after a restart or
an extension) replaces reminders instead of adding new ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

# Wakes are rounded up to this grid, so activations made together share one scheduler
# job: each activation ends at its own microsecond, and a job per moment (a pickled row,
# an insert, a wake of the scheduler's loop that reads the job table) was an eighth of
# the bot's CPU per activation at 70 a second (py-spy, `python -m bench --only
# throughput`). A reminder goes out at most this much later than its moment.
WAKE_GRID = timedelta(milliseconds=250)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class ReminderKind(StrEnum):
    LEAD = "lead"  # "User Administrator ends in 15 min"
    ENDED = "ended"  # "User Administrator has ended"


@dataclass(frozen=True, slots=True)
class Reminder:
    """One message due at `due_at`; `sent_at` is set once it has gone out."""

    id: str
    request_id: str
    kind: ReminderKind
    due_at: datetime
    lead: timedelta | None = None  # LEAD only: how long before the end
    sent_at: datetime | None = None


def lead_reminder_id(request_id: str, lead: timedelta) -> str:
    return f"{request_id}:lead:{int(lead.total_seconds())}"


def ended_reminder_id(request_id: str) -> str:
    return f"{request_id}:ended"


def parse_reminder_id(reminder_id: str) -> tuple[str, ReminderKind, timedelta | None]:
    """`"r1:lead:900"` → ("r1", LEAD, 15 min); `"r1:ended"` → ("r1", ENDED, None)."""
    head, _, last = reminder_id.rpartition(":")
    if last == ReminderKind.ENDED and head:
        return head, ReminderKind.ENDED, None
    request_id, _, kind = head.rpartition(":")
    if kind != ReminderKind.LEAD or not request_id or not last.isdigit():
        raise ValueError(f"not a reminder id: {reminder_id!r}")
    return request_id, ReminderKind.LEAD, timedelta(seconds=int(last))


def reminder_plan(
    end: datetime,
    lead_times: Iterable[timedelta],
    now: datetime,
    *,
    request_id: str,
    start: datetime | None = None,
) -> list[Reminder]:
    """The reminders still to send for an activation ending at `end`, earliest first.

    A lead reminder falls at `end - lead`; one that would fall before the activation
    started is dropped (a 1 h lead on a 30 min activation). Moments that passed while
    the bot was down are still sent, late, if the activation is live; of several such,
    only the latest, since one "ends in …" message says all of them. Once the
    activation has ended only the ended notice is left.
    """
    ended = Reminder(ended_reminder_id(request_id), request_id, ReminderKind.ENDED, end)
    if now >= end:
        return [ended]
    leads = [
        _lead(request_id, end, lead)
        for lead in sorted(set(lead_times), reverse=True)
        if lead > timedelta(0) and (start is None or end - lead >= start)
    ]
    overdue = [r for r in leads if r.due_at <= now]
    upcoming = [r for r in leads if r.due_at > now]
    return overdue[-1:] + upcoming + [ended]


def _lead(request_id: str, end: datetime, lead: timedelta) -> Reminder:
    rid = lead_reminder_id(request_id, lead)
    return Reminder(rid, request_id, ReminderKind.LEAD, end - lead, lead)


def fire_time(reminder: Reminder, now: datetime) -> datetime:
    """When to trigger: its moment, or now if that has passed (a late reminder)."""
    return max(reminder.due_at, now)


def wake_at(moment: datetime) -> datetime:
    """`moment` rounded up to WAKE_GRID (UTC)."""
    step = WAKE_GRID // timedelta(microseconds=1)
    since = (moment - _EPOCH) // timedelta(microseconds=1)
    return _EPOCH + timedelta(microseconds=-(-since // step) * step)


def should_send(reminder: Reminder, end: datetime | None, now: datetime) -> bool:
    """At send time: an "ends in …" message about an activation that is over (or whose
    end is unknown) would mislead; the ended notice always goes out."""
    if reminder.kind is ReminderKind.ENDED:
        return True
    return end is not None and now < end
