"""Approval rows (four eyes): each approver's Approve counted once, and the count that
completes a request approved exactly once, however many approvers click at the same time."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.domain.approvals import Approval, Counted, Tally
from bot.domain.people import PersonKey
from bot.domain.requests import ActivationRecord, RequestState
from bot.store import convert, tables

_A, _R = tables.approvals, tables.requests
_PENDING = RequestState.PENDING_APPROVAL.value


class ApprovalMethods:
    """The approvals half of SqlStore (kept apart to keep each module small)."""

    _engine: Engine
    _reader: Engine

    def add_approval(
        self, request_id: str, approval: Approval, required: int, *, decide: bool = True
    ) -> Counted | None:
        """Count `approval` on a pending request; the one that makes `required` distinct
        approvals moves it to `approved` (duration: the shortest approved) in the same
        transaction, unless `decide` is False (Entra decides; this only counts). None: the
        request is no longer pending (decided, expired, cancelled).

        The first statement is a write on the request's row: it takes the row lock
        (PostgreSQL) or the database's write lock (SQLite, BEGIN IMMEDIATE), so the
        approvals of one request are counted one at a time, and each following read in
        the transaction sees the approvals committed before it."""
        with self._engine.begin() as conn:
            locked = conn.execute(
                _R.update()
                .where(_R.c.id == request_id, _R.c.state == _PENDING)
                .values(updated_at=approval.at)
            )
            if locked.rowcount != 1:
                return None
            tally = _tally(conn, request_id, required)
            new = not tally.approved_by(approval.approver)
            if new:
                conn.execute(_A.insert().values(**_values(request_id, approval)))
                tally = _tally(conn, request_id, required)
            record = _load(conn, request_id)
            if decide and new and tally.complete:
                record = _complete(conn, record, approval, tally.duration(record.duration))
            return Counted(record, tally, new)

    def tally(self, request_id: str, required: int) -> Tally:
        """The approvals a request has gathered so far, oldest first."""
        with self._reader.begin() as conn:
            return _tally(conn, request_id, required)


def _values(request_id: str, approval: Approval) -> dict[str, object]:
    return {
        "request_id": request_id,
        "approver": str(approval.approver),
        "approved_at": approval.at,
        "duration_seconds": approval.duration,
    }


def _tally(conn: Connection, request_id: str, required: int) -> Tally:
    query = sa.select(_A).where(_A.c.request_id == request_id).order_by(_A.c.id)
    rows = conn.execute(query).mappings()
    approvals = tuple(
        Approval(PersonKey.parse(r["approver"]), r["approved_at"], r["duration_seconds"])
        for r in rows
    )
    return Tally(approvals, required)


def _load(conn: Connection, request_id: str) -> ActivationRecord:
    row = conn.execute(sa.select(_R).where(_R.c.id == request_id)).mappings().one()
    return convert.to_record(row)


def _complete(
    conn: Connection, record: ActivationRecord, last: Approval, duration: timedelta
) -> ActivationRecord:
    """The last approval decides: the request is approved, for what all approved."""
    changes: dict[str, object] = {
        "decided_by": last.approver,
        "decided_at": last.at,
        "updated_at": last.at,
        "duration": duration,
    }
    if duration < record.duration:
        changes["asked"] = record.duration
    values = convert.request_values({**changes, "state": RequestState.APPROVED})
    conn.execute(_R.update().where(_R.c.id == record.id).values(**values))
    conn.execute(
        tables.decisions.insert().values(
            request_id=record.id,
            decision=RequestState.APPROVED.value,
            decided_by=str(last.approver),
            decided_at=last.at,
            reason=None,
        )
    )
    return _load(conn, record.id)
