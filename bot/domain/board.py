"""Who holds privilege right now (the board) and who held it (history): pure facts."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.models import Ticket
from bot.domain.people import PersonKey
from bot.domain.targets import Scope


class Stage(StrEnum):
    """Where an elevation stands, as the board shows it."""

    PROVISIONING = "provisioning"  # pimbot activated it; Graph does not list it live yet
    IN_EFFECT = "in effect"
    EXPIRING = "expiring"  # ends within the reminder lead time
    ENDED = "ended"  # ended recently (kept a while so watchers see it go)


@dataclass(frozen=True, slots=True)
class Elevation:
    """One active (or just ended) role assignment: whoever made it. `requester` and
    `request_id` are set when pimbot made it (`via_pimbot`)."""

    principal_id: str
    principal_name: str
    role_id: str
    role_name: str
    scope: Scope
    since: datetime | None
    until: datetime | None
    stage: Stage
    ticket: Ticket | None = None
    requester: PersonKey | None = None
    request_id: str | None = None

    @property
    def via_pimbot(self) -> bool:
        return self.request_id is not None


@dataclass(frozen=True, slots=True)
class Board:
    """Every elevation of the roles pimbot knows, as read at `at`. `partial` is True when
    the reader sees only their own (not an approver nor a viewer)."""

    at: datetime
    elevations: tuple[Elevation, ...]
    partial: bool = False

    def only(self, principal_ids: frozenset[str], person: PersonKey) -> Board:
        mine = tuple(
            e for e in self.elevations if e.principal_id in principal_ids or e.requester == person
        )
        return replace(self, elevations=mine, partial=True)


def stage_of(until: datetime | None, now: datetime, lead: timedelta) -> Stage:
    """A live assignment's stage: expiring within `lead` of its end, else in effect."""
    if until is not None and until <= now:
        return Stage.ENDED
    if until is not None and until - now < lead:
        return Stage.EXPIRING
    return Stage.IN_EFFECT


def board_order(e: Elevation) -> tuple[str, str, str]:
    """Stable order: by role, then who, then scope."""
    return (e.role_name.casefold(), e.principal_name.casefold(), e.scope.id)


@dataclass(frozen=True, slots=True)
class PastActivation:
    """One activation from the audit trail, for `/pim history`."""

    requester: PersonKey
    role_name: str
    scope: Scope | None
    at: datetime
    duration: timedelta | None
    ticket: str | None
    approver: PersonKey | None
    request_id: str | None


@dataclass(frozen=True, slots=True)
class ActivationHistory:
    """The last activations of `subject` (optionally of one role), newest first."""

    subject: PersonKey
    role_name: str | None
    activations: tuple[PastActivation, ...]
