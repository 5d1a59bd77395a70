"""Audit events: what happened, who, when, and the Graph request id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.people import PersonKey
from bot.domain.requests import ActivationRecord
from bot.domain.targets import Scope, TargetKind


class AuditKind(StrEnum):
    REQUESTED = "requested"
    REFUSED = "refused"  # a request refused by policy or input checks
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    DENIED = "denied"
    DECISION_REFUSED = "decision_refused"  # an unauthorised Approve/Deny click
    APPROVAL_COUNTED = "approval_counted"  # one of the N approvals a role requires
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    ACTIVATED = "activated"
    ACTIVATION_FAILED = "activation_failed"
    EXTENDED = "extended"
    DEACTIVATED = "deactivated"
    ENDED = "ended"
    REMINDED = "reminded"
    CARD_NOT_POSTED = "card_not_posted"  # the chat refused the approval card; retried


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One append-only audit row."""

    at: datetime
    kind: AuditKind
    person: PersonKey | None  # who did it (the requester, or the approver who decided)
    entra_user_id: str | None = None
    role_id: str | None = None
    role_name: str | None = None
    duration: timedelta | None = None
    ticket: str | None = None
    justification: str | None = None
    graph_request_id: str | None = None
    request_id: str | None = None
    detail: str | None = None
    target_kind: TargetKind | None = None  # with the role: what it was activated as, and where
    scope: Scope | None = None


def event_for(
    kind: AuditKind,
    record: ActivationRecord,
    *,
    at: datetime,
    actor: PersonKey | None,
    detail: str | None = None,
    graph_request_id: str | None = None,
    duration: timedelta | None = None,
) -> AuditEvent:
    """The audit event for something that happened to a stored request."""
    return AuditEvent(
        at=at,
        kind=kind,
        person=actor,
        entra_user_id=record.principal_id,
        role_id=record.role_id,
        role_name=record.role_name,
        duration=duration or record.duration,
        ticket=record.ticket.number if record.ticket else None,
        justification=record.justification,
        graph_request_id=graph_request_id or record.graph_request_id,
        request_id=record.id,
        detail=detail,
        target_kind=record.target_kind,
        scope=record.scope,
    )
