"""Did Graph already apply a schedule request whose response was lost? Match it."""

from __future__ import annotations

from bot.graph.models import (
    RequestScheduleInfo,
    ScheduleRequestBody,
    ScheduleRequestOut,
    iso_duration,
)


def same_submission(sent: ScheduleRequestBody, seen: ScheduleRequestOut) -> bool:
    """True if `seen` is the request Graph created from `sent`.

    Activations and extensions carry a schedule that is unique in practice (an
    activation's start is the moment it was sent; an extension's new end differs from
    every earlier one), so the schedule fingerprints the submission. Removals carry no
    schedule; the caller checks for them against the live assignments instead.
    """
    if (seen.action, seen.principal_id, seen.role_definition_id) != (
        sent.action,
        sent.principal_id,
        sent.role_definition_id,
    ):
        return False
    if sent.schedule_info is None:
        return seen.justification == sent.justification
    return _fingerprint(sent.schedule_info) == _fingerprint(seen.schedule_info)


def newest_first(requests: list[ScheduleRequestOut]) -> list[ScheduleRequestOut]:
    return sorted(
        requests,
        key=lambda r: r.created_date_time.timestamp() if r.created_date_time else 0.0,
        reverse=True,
    )


def _fingerprint(info: RequestScheduleInfo | None) -> tuple[object, ...]:
    if info is None:
        return (None,)
    exp = info.expiration
    return (
        info.start_date_time,
        exp.type if exp else None,
        iso_duration(exp.duration) if exp else None,  # PT5H == PT300M
        exp.end_date_time if exp else None,
    )
