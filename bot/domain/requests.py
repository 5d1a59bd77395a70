"""Bot-side activation requests and their state machine."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.models import Ticket
from bot.domain.people import PersonKey
from bot.domain.targets import Role, Scope, Target, TargetKind


class RequestState(StrEnum):
    """requested → pending_approval → approved/denied/expired/cancelled → activating → active
    → ended/failed. `requested` goes straight to `activating` when no approval is needed."""

    REQUESTED = "requested"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    ACTIVATING = "activating"
    ACTIVE = "active"
    ENDED = "ended"
    FAILED = "failed"


S = RequestState
TRANSITIONS: dict[RequestState, frozenset[RequestState]] = {
    S.REQUESTED: frozenset({S.PENDING_APPROVAL, S.ACTIVATING, S.FAILED, S.CANCELLED}),
    S.PENDING_APPROVAL: frozenset({S.APPROVED, S.DENIED, S.EXPIRED, S.CANCELLED}),
    S.APPROVED: frozenset({S.ACTIVATING, S.FAILED}),
    # Back to REQUESTED / APPROVED: the claim is released because the user must sign in
    # (user mode) before their own token can activate; the request is kept, not failed.
    # ENDED: an extension request, once applied, is over; the activation it lengthened
    # (its `extends`) carries the new end.
    S.ACTIVATING: frozenset(
        {S.ACTIVE, S.ENDED, S.FAILED, S.PENDING_APPROVAL, S.REQUESTED, S.APPROVED}
    ),
    S.ACTIVE: frozenset({S.ENDED}),
    S.DENIED: frozenset(),
    S.EXPIRED: frozenset(),
    S.CANCELLED: frozenset(),
    S.ENDED: frozenset(),
    S.FAILED: frozenset(),
}
OPEN_STATES = frozenset({S.REQUESTED, S.PENDING_APPROVAL, S.APPROVED, S.ACTIVATING})
FINAL_STATES = frozenset(state for state, nxt in TRANSITIONS.items() if not nxt)


def can_transition(current: RequestState, new: RequestState) -> bool:
    return new in TRANSITIONS[current]


@dataclass(frozen=True, slots=True)
class ActivationRecord:
    """One activation request as the bot tracks it, from the slash command to its end.
    `target_kind`, the role and `scope` make its `target`: what was checked is what is
    activated, approved, reminded of and audited."""

    id: str
    requester: PersonKey
    principal_id: str
    role_id: str
    role_name: str
    target_kind: TargetKind
    scope: Scope
    duration: timedelta
    justification: str
    ticket: Ticket | None
    state: RequestState
    created_at: datetime
    updated_at: datetime
    approval_reason: str | None = None  # why approval is needed, shown on the card
    graph_request_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    decided_by: PersonKey | None = None  # the approver / denier
    decided_at: datetime | None = None
    decision_reason: str | None = None
    card: str | None = None  # where the approval card is: a reference only the front end reads
    error: str | None = None
    # An extension request (issue 15): the id of the activation record it lengthens, and
    # that record's end when asked (where the new end counts from; the card shows it).
    extends: str | None = None
    extends_end: datetime | None = None
    # An activation: how many extensions its chain has had (a refused one never counts).
    extensions: int = 0
    asked: timedelta | None = None  # the duration asked for, when approved for less

    @property
    def target(self) -> Target:
        return Target(self.target_kind, Role(self.role_id, self.role_name), self.scope)

    @property
    def new_end(self) -> datetime | None:
        """An extension request's end once applied; None for an activation request."""
        return self.extends_end + self.duration if self.extends_end else None

    def with_changes(self, **changes: object) -> ActivationRecord:
        return replace(self, **changes)  # type: ignore[arg-type]


# unifiedRoleScheduleRequest `status` values
# (https://learn.microsoft.com/en-us/graph/api/resources/unifiedroleassignmentschedulerequest):
# only these mean the activation is in effect (or scheduled as asked); these others mean
# Entra accepted it but has not applied it yet; these ended it without an activation.
IN_EFFECT = frozenset({"Provisioned", "ScheduleCreated"})
NOT_YET = frozenset(
    {"Granted", "PendingProvisioning", "PendingScheduleCreation", "PendingAdminDecision"}
)
REFUSED = frozenset({"Failed", "Denied", "Canceled", "Revoked"})
