"""Did Graph already apply a schedule request whose response was lost? Match it."""

from __future__ import annotations

from bot.graph.models import (
    RequestScheduleInfo,
    ScheduleRequestBody,
    ScheduleRequestOut,
    iso_duration,
)


def same_submission(sent: ScheduleRequestBody, seen: ScheduleRequestOut) -> bool:
    """True if `seen` can be the request Graph created from `sent`.

    Everything Graph echoes must agree: action, principal, role, scope, justification,
    ticket and expiration. Graph moves a start that is already past up to its own now, never
    earlier, so the request's start is at or after the one sent; an older request with
    the same reasons started before it. (Callers take the newest match.) A removal is sent
    with no schedule, but Graph echoes one it fills in itself (its own start, no
    expiration), so a removal's schedule is not compared; the caller checks that the
    role is gone at that scope before it trusts the match.
    """
    same_reasons = (
        _identity(seen) == _identity(sent)
        and (seen.justification or None) == (sent.justification or None)
        and _ticket_number(seen) == _ticket_number(sent)
    )
    if sent.schedule_info is None:
        return same_reasons
    return (
        same_reasons
        and _expiry(seen.schedule_info) == _expiry(sent.schedule_info)
        and _starts_no_earlier(sent.schedule_info, seen.schedule_info)
    )


def newest_first(requests: list[ScheduleRequestOut]) -> list[ScheduleRequestOut]:
    def created(request: ScheduleRequestOut) -> float:
        return request.created_date_time.timestamp() if request.created_date_time else 0.0

    return sorted(requests, key=created, reverse=True)


def _identity(body: ScheduleRequestBody) -> tuple[str, str, str, str | None]:
    return str(body.action), body.principal_id, body.role_definition_id, body.directory_scope_id


def _ticket_number(body: ScheduleRequestBody) -> str | None:
    return body.ticket_info.ticket_number if body.ticket_info else None


def _expiry(info: RequestScheduleInfo | None) -> tuple[object, ...]:
    exp = info.expiration if info else None
    if exp is None:
        return ()
    # Compare durations by value: PT5H and PT300M are the same request.
    return exp.type, iso_duration(exp.duration), exp.end_date_time


def _starts_no_earlier(sent: RequestScheduleInfo | None, seen: RequestScheduleInfo | None) -> bool:
    if sent is None or seen is None or sent.start_date_time is None:
        return True
    return seen.start_date_time is None or seen.start_date_time >= sent.start_date_time
