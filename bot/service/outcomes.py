"""What the use cases return: plain data, ready for any front end to render."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TypeAlias

from bot.domain.approvals import Tally
from bot.domain.board import ActivationHistory, Board
from bot.domain.breakglass import BreakGlassRecord
from bot.domain.command_types import Command
from bot.domain.models import ActiveAssignment, Role, RolePolicy
from bot.domain.nudges import Pinged
from bot.domain.requests import ActivationRecord
from bot.domain.targets import Scope, Target
from bot.service.identity import Requester


@dataclass(frozen=True, slots=True)
class EligibleRole:
    """A target (role and scope) the user may activate, with the effective policy."""

    target: Target
    policy: RolePolicy
    approval_reasons: tuple[str, ...]
    via_group_name: str | None
    eligible_until: datetime | None

    @property
    def role(self) -> Role:
        return self.target.role

    @property
    def scope(self) -> Scope:
        return self.target.scope


@dataclass(frozen=True, slots=True)
class ActiveRole:
    """A live assignment, named by the role catalog; at the assignment's scope."""

    role: Role
    assignment: ActiveAssignment

    @property
    def target(self) -> Target:
        return Target(self.assignment.kind, self.role, self.assignment.scope)


@dataclass(frozen=True, slots=True)
class Overview:
    """What `/pim list`, `/pim status` and the App Home show. `waiting`: the requests the
    user may decide as an approver (read for the App Home only)."""

    requester: Requester
    eligible: list[EligibleRole]
    active: list[ActiveRole]
    pending: list[ActivationRecord]
    now: datetime
    waiting: tuple[ActivationRecord, ...] = ()
    # Approver pings sent so far, per pending or waiting request ("reminded twice").
    pinged: Mapping[str, Pinged] = field(default_factory=dict)
    board: Board | None = None  # who is elevated (approvers' and viewers' App Home)


class OutcomeKind(StrEnum):
    ACTIVATED = "activated"
    PROVISIONING = "provisioning"  # Entra accepted it; not in effect yet
    PENDING_APPROVAL = "pending_approval"
    DEACTIVATED = "deactivated"
    EXTENDED = "extended"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of a use case, ready to render; `target` names the role and its scope."""

    kind: OutcomeKind
    requester: Requester
    target: Target
    record: ActivationRecord | None = None
    end: datetime | None = None
    graph_request_id: str | None = None
    approval_reasons: tuple[str, ...] = ()

    @property
    def role(self) -> Role:
        return self.target.role


@dataclass(frozen=True, slots=True)
class Decision:
    """What a decision did: the record as stored, and the activation's result on approval."""

    record: ActivationRecord
    approved: bool
    outcome: Outcome | None = None
    error: str | None = None
    tally: Tally | None = None  # four eyes: the approvals so far, while more are needed


@dataclass(frozen=True, slots=True)
class GlassOutcome:
    """A break-glass: the activation as stored (active, or accepted by Entra and not yet
    in effect) and its ratification facts."""

    requester: Requester
    target: Target
    record: ActivationRecord
    glass: BreakGlassRecord
    approvers: int  # how many approver references the alert mentions


@dataclass(frozen=True, slots=True)
class GlassDecision:
    """A Ratify or Revoke on a break-glass alert, as stored."""

    record: ActivationRecord
    glass: BreakGlassRecord
    ratified: bool  # False: revoked


@dataclass(frozen=True, slots=True)
class ApprovalQueue:
    """`/pim approvals`: the requests the person may decide, oldest first, with the
    approver pings each has had."""

    waiting: tuple[ActivationRecord, ...]
    pinged: Mapping[str, Pinged]
    now: datetime


@dataclass(frozen=True, slots=True)
class SignInStarted:
    """`/pim login`: a code was sent by direct message."""


@dataclass(frozen=True, slots=True)
class SignedOut:
    """`/pim logout`: `had_tokens` False when there was nothing to forget."""

    had_tokens: bool


@dataclass(frozen=True, slots=True)
class NotInUserMode:
    """`/pim login` or `/pim logout` while the bot acts with its own application identity."""


Result: TypeAlias = (
    Outcome
    | Overview
    | Decision
    | SignInStarted
    | SignedOut
    | NotInUserMode
    | GlassOutcome
    | GlassDecision
    | ApprovalQueue
    | Board
    | ActivationHistory
)


@dataclass(frozen=True, slots=True)
class Replayed:
    """One kept command after its replay: what it gave, or why not."""

    command: Command
    result: Result | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Dropped:
    """Kept work given up on: what it was, and the stored request it was for (if any)."""

    command: Command
    record: ActivationRecord | None = None
