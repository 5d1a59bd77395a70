"""Rows ↔ domain dataclasses: the only place that knows both shapes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping

from bot.domain.audit import AuditEvent, AuditKind
from bot.domain.models import Ticket
from bot.domain.people import PersonKey
from bot.domain.reminders import Reminder, ReminderKind
from bot.domain.requests import ActivationRecord, RequestState
from bot.domain.targets import Scope, TargetKind
from bot.service.ports import UserLink


@dataclass(frozen=True, slots=True)
class Decision:
    """Who approved or denied a request, when, and why (one row per decision)."""

    request_id: str
    decision: RequestState  # APPROVED or DENIED
    decided_by: PersonKey | None
    decided_at: datetime | None
    reason: str | None


RECORD_FIELDS = frozenset(f.name for f in fields(ActivationRecord))
# Columns named differently from the record's fields; the rest map one to one.
_RENAMED = {"duration": "duration_seconds", "asked": "asked_seconds"}


def request_values(changes: Mapping[str, object]) -> dict[str, Any]:
    """ActivationRecord fields (all or some) → column values."""
    unknown = set(changes) - RECORD_FIELDS
    if unknown:
        raise ValueError(f"not ActivationRecord fields: {sorted(unknown)}")
    values: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "ticket":
            if value is not None and not isinstance(value, Ticket):
                raise ValueError(f"ticket must be a Ticket or None, not {value!r}")
            ticket = value
            values["ticket_number"] = ticket.number if ticket else None
            values["ticket_system"] = ticket.system if ticket else None
        elif name == "state":
            values["state"] = RequestState(str(value)).value
        elif name in ("requester", "decided_by"):
            if value is not None and not isinstance(value, PersonKey):
                raise ValueError(f"{name} must be a PersonKey, not {value!r}")
            values[name] = str(value) if value is not None else None
        elif name == "target_kind":
            values["target_kind"] = TargetKind(str(value)).value
        elif name == "scope":
            if not isinstance(value, Scope):
                raise ValueError(f"scope must be a Scope, not {value!r}")
            values["scope_id"], values["scope_name"] = value.id, value.display_name
        else:
            values[_RENAMED.get(name, name)] = value
    return values


def record_values(record: ActivationRecord) -> dict[str, Any]:
    return request_values({name: getattr(record, name) for name in RECORD_FIELDS})


_COMPOSED = frozenset({"ticket", "scope", "requester", "decided_by"})


def to_record(row: RowMapping) -> ActivationRecord:
    kwargs = {name: row[_RENAMED.get(name, name)] for name in RECORD_FIELDS - _COMPOSED}
    kwargs["state"] = RequestState(row["state"])
    kwargs["requester"] = PersonKey.parse(row["requester"])
    kwargs["decided_by"] = _person(row["decided_by"])
    if row["target_kind"] is None or row["scope_id"] is None:
        # Never guessed: a request's scope is what it was activated at (v7 backfills).
        raise ValueError(f"request {row['id']} has no target: is the schema migrated?")
    kwargs["target_kind"] = TargetKind(row["target_kind"])
    kwargs["scope"] = Scope(row["scope_id"], row["scope_name"])
    number = row["ticket_number"]
    kwargs["ticket"] = Ticket(number, row["ticket_system"]) if number is not None else None
    return ActivationRecord(**kwargs)


def to_decision(row: RowMapping) -> Decision:
    return Decision(
        request_id=row["request_id"],
        decision=RequestState(row["decision"]),
        decided_by=_person(row["decided_by"]),
        decided_at=row["decided_at"],
        reason=row["reason"],
    )


def link_values(link: UserLink) -> dict[str, Any]:
    values = {f.name: getattr(link, f.name) for f in fields(UserLink)}
    values["person"] = str(link.person)
    return values


def to_link(row: RowMapping) -> UserLink:
    values = {f.name: row[f.name] for f in fields(UserLink)}
    values["person"] = PersonKey.parse(row["person"])
    return UserLink(**values)


def _person(value: str | None) -> PersonKey | None:
    return PersonKey.parse(value) if value else None


def audit_values(event: AuditEvent) -> dict[str, Any]:
    values = {f.name: getattr(event, f.name) for f in fields(AuditEvent)}
    values["kind"] = event.kind.value
    values["person"] = str(event.person) if event.person else None
    values["subject"] = str(event.subject) if event.subject else None
    values["duration_seconds"] = values.pop("duration")
    values["held_seconds"] = values.pop("held")
    values["target_kind"] = event.target_kind.value if event.target_kind else None
    scope = values.pop("scope")
    values["scope_id"] = scope.id if scope else None
    values["scope_name"] = scope.display_name if scope else None
    return values


_AUDIT_COMPOSED = frozenset(
    {"duration", "scope", "target_kind", "kind", "person", "subject", "held"}
)


def to_audit(row: RowMapping) -> AuditEvent:
    kwargs = {f.name: row[f.name] for f in fields(AuditEvent) if f.name not in _AUDIT_COMPOSED}
    scope_id, kind = row["scope_id"], row["target_kind"]
    return AuditEvent(
        kind=AuditKind(row["kind"]),
        person=_person(row["person"]),
        subject=_person(row["subject"]),
        duration=row["duration_seconds"],
        held=row["held_seconds"],
        target_kind=TargetKind(kind) if kind else None,
        scope=Scope(scope_id, row["scope_name"]) if scope_id else None,
        **kwargs,
    )


def reminder_values(reminder: Reminder) -> dict[str, Any]:
    return {
        "id": reminder.id,
        "request_id": reminder.request_id,
        "kind": reminder.kind.value,
        "lead_seconds": reminder.lead,
        "due_at": reminder.due_at,
        "sent_at": reminder.sent_at,
    }


def to_reminder(row: RowMapping) -> Reminder:
    return Reminder(
        id=row["id"],
        request_id=row["request_id"],
        kind=ReminderKind(row["kind"]),
        due_at=row["due_at"],
        lead=row["lead_seconds"],
        sent_at=row["sent_at"],
    )
