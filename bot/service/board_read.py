"""The board's last tenant-wide read of who is elevated, and pimbot's own changes applied
to it, so a change redraws the board without reading Graph again (issue 17)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.models import ActiveAssignment
from bot.domain.requests import ActivationRecord
from bot.domain.requests import RequestState as S

_Key = tuple[str, str, str]  # principal, role, scope


@dataclass(frozen=True, slots=True)
class LastRead:
    """Graph's answer to `list_active_all`, and when (on the bot's clock) it was read."""

    assignments: tuple[ActiveAssignment, ...]
    at: datetime

    def fresh(self, now: datetime, max_age: timedelta) -> bool:
        return now - self.at < max_age

    def with_changes(self, records: list[ActivationRecord]) -> list[ActiveAssignment]:
        """The read, with what pimbot changed since it was made (the records updated after
        it): one ended or failed is gone, one active (new, renewed) is as the store holds
        it, with the start and end Graph answered to pimbot's own request."""
        changed = [r for r in records if r.updated_at >= self.at]
        gone = {_key_of(r) for r in changed}
        kept = [a for a in self.assignments if _key(a) not in gone]
        return kept + [_assignment(r) for r in changed if r.state is S.ACTIVE and r.start]


def _key(a: ActiveAssignment) -> _Key:
    return (a.principal_id, a.role_id.lower(), a.scope.id)


def _key_of(r: ActivationRecord) -> _Key:
    return (r.principal_id, r.role_id.lower(), r.scope.id)


def _assignment(r: ActivationRecord) -> ActiveAssignment:
    return ActiveAssignment(
        id=r.graph_request_id or r.id,
        kind=r.target_kind,
        role_id=r.role_id,
        principal_id=r.principal_id,
        scope=r.scope,
        start=r.start,
        end=r.end,
        assignment_type="Activated",
    )
