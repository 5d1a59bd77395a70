"""Readiness of an accepted activation, and activity outside pimbot: pure facts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.models import ActiveAssignment, Ticket


class Stage(StrEnum):
    """How far an activation Graph accepted has got, in the order it gets there."""

    REQUESTED = "requested"  # accepted; the request is not provisioned yet
    PROVISIONING = "provisioning"  # provisioned (schedule instance), not yet in the directory
    IN_EFFECT = "in_effect"  # the directory's role assignments show it


@dataclass(frozen=True, slots=True)
class Readiness:
    """One accepted activation followed to "in effect"; `late` once the requester and
    the audit channel were told it is taking longer than `readiness.timeout`."""

    request_id: str
    accepted_at: datetime
    stage: Stage
    late: bool = False
    in_effect_at: datetime | None = None

    def took(self) -> timedelta | None:
        if self.in_effect_at is None:
            return None
        return max(self.in_effect_at - self.accepted_at, timedelta(0))


@dataclass(frozen=True, slots=True)
class OutsideActivity:
    """A live assignment of a role pimbot knows that pimbot did not grant.

    `removed` says pimbot removed it (drift.remove_outside_activations); `kept` says why
    it was not removed when removal is on (permanent, a break-glass account)."""

    assignment: ActiveAssignment
    role_name: str
    principal_name: str
    justification: str | None = None
    ticket: Ticket | None = None
    removed: bool = False
    kept: str | None = None

    @property
    def permanent(self) -> bool:
        return self.assignment.end is None
