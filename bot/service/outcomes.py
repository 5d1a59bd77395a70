"""What the use cases return: plain data, ready for any front end to render."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.domain.models import ActiveAssignment, Role, RolePolicy
from bot.domain.requests import ActivationRecord
from bot.service.identity import Requester


@dataclass(frozen=True, slots=True)
class EligibleRole:
    """A role the user may activate, with the effective policy that applies."""

    role: Role
    policy: RolePolicy
    approval_reasons: tuple[str, ...]
    via_group_name: str | None
    eligible_until: datetime | None


@dataclass(frozen=True, slots=True)
class ActiveRole:
    role: Role
    assignment: ActiveAssignment


@dataclass(frozen=True, slots=True)
class Overview:
    """What `/pim list`, `/pim status` and the App Home show."""

    requester: Requester
    eligible: list[EligibleRole]
    active: list[ActiveRole]
    pending: list[ActivationRecord]
    now: datetime


class OutcomeKind(StrEnum):
    ACTIVATED = "activated"
    PENDING_APPROVAL = "pending_approval"
    DEACTIVATED = "deactivated"
    EXTENDED = "extended"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of a use case, ready to render."""

    kind: OutcomeKind
    requester: Requester
    role: Role
    record: ActivationRecord | None = None
    end: datetime | None = None
    graph_request_id: str | None = None
    approval_reasons: tuple[str, ...] = ()
