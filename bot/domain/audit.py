"""Audit events: what happened, who, when, and the Graph request id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.durations import to_human
from bot.domain.requests import ActivationRecord
from bot.domain.targets import Scope, TargetKind


class AuditKind(StrEnum):
    REQUESTED = "requested"
    REFUSED = "refused"  # a request refused by policy or input checks
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    DENIED = "denied"
    DECISION_REFUSED = "decision_refused"  # an unauthorised Approve/Deny click
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    ACTIVATED = "activated"
    ACTIVATION_FAILED = "activation_failed"
    EXTENDED = "extended"
    DEACTIVATED = "deactivated"
    ENDED = "ended"
    REMINDED = "reminded"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One append-only audit row."""

    at: datetime
    kind: AuditKind
    slack_user_id: str | None
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

    def render(self) -> str:
        """One plain-text line for the audit channel and logs."""
        parts = [self.at.strftime("%Y-%m-%d %H:%M:%SZ"), self.kind.value]
        if self.slack_user_id:
            parts.append(f"by <@{self.slack_user_id}>")
        if self.role_name:
            parts.append(self.role_name)
        if self.scope:
            parts.append(f"scope {self.scope.id} ({self.scope.label})")
        if self.duration:
            parts.append(f"for {to_human(self.duration)}")
        if self.ticket:
            parts.append(f"ticket {self.ticket}")
        if self.justification:
            parts.append(f"“{self.justification}”")
        if self.request_id:
            parts.append(f"request {self.request_id}")
        if self.graph_request_id:
            parts.append(f"graph {self.graph_request_id}")
        if self.detail:
            parts.append(f"({self.detail})")
        return " · ".join(parts)


def event_for(
    kind: AuditKind,
    record: ActivationRecord,
    *,
    at: datetime,
    actor: str | None,
    detail: str | None = None,
    graph_request_id: str | None = None,
    duration: timedelta | None = None,
) -> AuditEvent:
    """The audit event for something that happened to a stored request."""
    return AuditEvent(
        at=at,
        kind=kind,
        slack_user_id=actor,
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
