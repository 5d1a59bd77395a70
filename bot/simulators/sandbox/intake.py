"""A roleAssignmentScheduleRequest body -> a ScheduleRequest record, checked the way
Graph checks shapes (casing, required fields, schedule) before any PIM rule runs."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.simulators.sandbox.errors import GraphFailure, bad_request
from bot.simulators.sandbox.model import AU_SCOPE_PREFIX, TENANT_SCOPE, ScheduleRequest, Ticket
from bot.simulators.sandbox.timefmt import parse_dt, parse_duration
from bot.simulators.sandbox.tokens import Caller

# Graph accepts any casing on input (the tutorial sends `SelfActivate`) and answers with
# the metadata's spelling.
ACTIONS = {
    a.lower(): a
    for a in (
        "adminAssign",
        "adminUpdate",
        "adminRemove",
        "selfActivate",
        "selfDeactivate",
        "adminExtend",
        "adminRenew",
        "selfExtend",
        "selfRenew",
    )
}
EXPIRATIONS = {
    e.lower(): e
    for e in (
        "notSpecified",
        "noExpiration",
        "afterDateTime",
        "afterDuration",
    )
}


def invalid_schedule(message: str) -> GraphFailure:
    return bad_request(message, code="InvalidScheduleRequest")


def parse_request(
    body: dict[str, Any], caller: Caller, now: datetime, new_id: str
) -> ScheduleRequest:
    """Validate the body's shape; the record starts `Provisioned`, handlers change that."""
    action = ACTIONS.get(str(body.get("action", "")).lower())
    if action is None:
        raise bad_request(f"Invalid value for 'action': {body.get('action')!r}.")
    principal_id = _required(body, "principalId")
    role_id = _required(body, "roleDefinitionId")
    scope = _directory_scope(body)
    start, kind, duration, end = _schedule(body.get("scheduleInfo"), now)
    if not action.endswith("Extend"):
        start = max(start, now)  # Graph starts a new assignment no earlier than now
    if kind == "afterDuration" and duration is not None:
        end = start + duration
    if end is not None and end <= now:
        raise invalid_schedule("The schedule ends in the past.")
    ticket = body.get("ticketInfo") or {}
    return ScheduleRequest(
        id=new_id,
        action=action,
        principal_id=principal_id,
        role_id=role_id,
        scope=scope,
        justification=body.get("justification") or None,
        ticket=Ticket(ticket.get("ticketNumber") or None, ticket.get("ticketSystem") or None),
        start=start,
        expiration_type=kind,
        duration=duration,
        end=end,
        created=now,
        created_by=(caller.kind, caller.object_id),
        status="Provisioned",
        completed=now,
        target_schedule_id=new_id,
    )


def _schedule(
    raw: object, now: datetime
) -> tuple[datetime, str, timedelta | None, datetime | None]:
    """scheduleInfo -> (start, expiration type, duration, end); the caller derives the
    end of an afterDuration from the effective start."""
    if raw is None:
        return now, "notSpecified", None, None
    if not isinstance(raw, dict):
        raise invalid_schedule("scheduleInfo must be an object.")
    expiration = raw.get("expiration") or {}
    kind = EXPIRATIONS.get(str(expiration.get("type") or "notSpecified").lower())
    if kind is None:
        raise invalid_schedule(f"Invalid expiration type {expiration.get('type')!r}.")
    try:
        start = parse_dt(raw["startDateTime"]) if raw.get("startDateTime") else now
        duration = parse_duration(expiration["duration"]) if expiration.get("duration") else None
        end = parse_dt(expiration["endDateTime"]) if expiration.get("endDateTime") else None
    except (ValueError, TypeError) as exc:
        raise invalid_schedule(f"Invalid scheduleInfo: {exc}.") from exc
    if kind == "afterDuration":
        if duration is None or duration <= timedelta(0):
            raise invalid_schedule("An afterDuration expiration needs a positive duration.")
        end = None
    elif kind == "afterDateTime":
        if end is None:
            raise invalid_schedule("An afterDateTime expiration needs an endDateTime.")
        duration = None
    else:
        duration, end = None, None
    return start, kind, duration, end


def _directory_scope(body: dict[str, Any]) -> str:
    """directoryScopeId, shaped as Graph documents it for directory roles: `/` or
    `/administrativeUnits/{id}`. Either it or appScopeId is required
    (https://learn.microsoft.com/en-us/graph/api/rbacapplication-post-roleassignmentschedulerequests);
    the sandbox has no app scopes (nor application-object scopes) and refuses them, as it
    refuses anything it can't say Entra accepts. Whether the scope exists, and matches an
    eligibility, is checked with the tenant (bot.simulators.sandbox.pim)."""
    if body.get("appScopeId") is not None:
        raise invalid_scope("The sandbox tenant supports directory scopes only, not appScopeId.")
    scope = body.get("directoryScopeId")
    if not isinstance(scope, str) or not scope:
        raise bad_request("Either 'directoryScopeId' or 'appScopeId' is required.")
    unit = scope.removeprefix(AU_SCOPE_PREFIX)
    if scope != TENANT_SCOPE and (unit == scope or not unit or "/" in unit):
        raise invalid_scope(f"Unsupported directoryScopeId {scope!r}.")
    return scope


def invalid_scope(message: str) -> GraphFailure:
    return bad_request(message, code="InvalidDirectoryScope")


def _required(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise bad_request(f"'{key}' is required.")
    return value
