"""Audit events: what happened, who did it to whom, when, for how long, and the requests
(pimbot's and Graph's) they belong to. Text fields hold what people typed, never markup."""

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
    BREAK_GLASS = "break_glass"  # activated at once in an emergency, to be ratified
    BREAK_GLASS_REFUSED = "break_glass_refused"  # a break-glass refused (policy, daily limit)
    RATIFIED = "ratified"  # one approver's ratification of a break-glass
    REVOKED = "revoked"  # an approver ended a break-glass
    BREAK_GLASS_EXPIRED = "break_glass_expired"  # not ratified in time: it is deactivated
    BREAK_GLASS_ENDED = "break_glass_ended"  # pimbot deactivated a revoked or lapsed one
    APPROVERS_REMINDED = "approvers_reminded"  # an undecided request re-pinged its approvers
    ESCALATED = "escalated"  # an undecided request pinged `escalate_to`


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One append-only audit row. `person` is the actor (who did it: the requester, or the
    approver who decided); `subject` is whose access it is about (the requester). `start`
    and `end` are the activation's actual start and its end (scheduled while it runs,
    actual once it ended); `held` is the time really held, on rows that end it."""

    at: datetime
    kind: AuditKind
    person: PersonKey | None  # the actor
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
    subject: PersonKey | None = None
    start: datetime | None = None
    end: datetime | None = None
    held: timedelta | None = None


# Rows that close an activation: their end is the actual one, and the time held is known.
CLOSING = frozenset({AuditKind.DEACTIVATED, AuditKind.ENDED, AuditKind.BREAK_GLASS_ENDED})


def span(
    kind: AuditKind, record: ActivationRecord, at: datetime
) -> tuple[datetime | None, datetime | None, timedelta | None]:
    """The activation's start, end and time held as of an event of `kind` at `at`.
    A closing row's end is the record's end if that has passed, else `at`: an activation
    deactivated or found ended early held the role until then at the latest."""
    start, end = record.start, record.end
    if kind not in CLOSING or start is None:
        return start, end, None
    end = end if end is not None and end <= at else at
    return start, end, end - start


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
    """The audit event for something that happened to a stored request: `actor` did it,
    to the request's requester (the subject)."""
    start, end, held = span(kind, record, at)
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
        subject=record.requester,
        start=start,
        end=end,
        held=held,
    )
