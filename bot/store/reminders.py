"""Reminder rows: planned reminders, and the claim that makes each go out once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.domain.audit import AuditEvent
from bot.domain.reminders import Reminder, ReminderKind
from bot.domain.requests import RequestState
from bot.service.outbox import Letter
from bot.store import convert, tables
from bot.store.engine import writing
from bot.store.outbox import insert_letters
from bot.store.upsert import upsert

_M = tables.reminders


def _on_conflict(excluded: Any) -> dict[str, Any]:
    # Re-planning the same reminder id (after an extension) with a new moment means a
    # new message is due: clear sent_at. Same moment (a restart): keep what was sent.
    same = _M.c.due_at == excluded.due_at
    return {
        "kind": excluded.kind,
        "lead_seconds": excluded.lead_seconds,
        "due_at": excluded.due_at,
        "sent_at": sa.case((same, _M.c.sent_at), else_=None),
        "claimed_until": sa.case((same, _M.c.claimed_until), else_=None),
    }


class ReminderMethods:
    """The reminder half of SqlStore (kept apart to keep each module small)."""

    _engine: Engine
    _reader: Engine

    def save_reminders(self, reminders: Iterable[Reminder]) -> None:
        """Insert or re-plan reminders by id (idempotent), in one transaction."""
        rows = [convert.reminder_values(reminder) for reminder in reminders]
        with writing(self._engine) as conn:
            upsert(conn, _M, rows, key=["id"], on_conflict=_on_conflict)

    def get_reminder(self, reminder_id: str) -> Reminder | None:
        with self._reader.begin() as conn:
            row = conn.execute(sa.select(_M).where(_M.c.id == reminder_id)).mappings().first()
        return convert.to_reminder(row) if row else None

    def list_reminders(
        self, *, request_id: str | None = None, unsent_only: bool = False
    ) -> list[Reminder]:
        """Reminders by due time: all, one request's, and/or those not yet sent (the
        list to re-schedule on start)."""
        query = sa.select(_M).order_by(_M.c.due_at, _M.c.id)
        if request_id is not None:
            query = query.where(_M.c.request_id == request_id)
        if unsent_only:
            query = query.where(_M.c.sent_at.is_(None))
        with self._reader.begin() as conn:
            return [convert.to_reminder(row) for row in conn.execute(query).mappings()]

    def roles_to_remind(self, until: datetime) -> set[str]:
        """Roles of the live activations with an "ends in" reminder due by `until` and
        unsent: what the confirmation read for that moment must cover."""
        r = tables.requests
        query = (
            sa.select(r.c.role_id)
            .distinct()
            .join_from(_M, r, _M.c.request_id == r.c.id)
            .where(
                _M.c.sent_at.is_(None),
                _M.c.due_at <= until,
                _M.c.kind != ReminderKind.ENDED.value,
                r.c.state == RequestState.ACTIVE.value,
            )
        )
        with self._reader.begin() as conn:
            return set(conn.execute(query).scalars())

    def claim_due_reminders(
        self, now: datetime, limit: int, lease: timedelta = timedelta(seconds=60)
    ) -> list[Reminder]:
        """Claim up to `limit` due, unsent reminders in one transaction and return them,
        oldest first: each is the caller's alone until `now + lease`. The caller queues
        its message, then marks it sent (`mark_reminders_sent`); a claimer that died in
        between lets the lease run out, and the next run claims it again (the message's
        outbox key keeps a second claim from queueing it twice). Neither lost nor doubled.

        PostgreSQL: `FOR UPDATE SKIP LOCKED` lets two replicas claim disjoint batches side
        by side ("skips rows that cannot be immediately locked", postgresql.org/docs/
        current/sql-select.html#SQL-FOR-UPDATE-SHARE); the ids are read first, not in a
        subquery of the UPDATE, which PostgreSQL may run more than once (past the LIMIT).
        SQLite has one writer at a time and no locking clause. Either way the UPDATE's own
        condition decides: a row another claim took meanwhile is not returned.
        """
        free = sa.and_(
            _M.c.sent_at.is_(None),
            _M.c.due_at <= now,
            sa.or_(_M.c.claimed_until.is_(None), _M.c.claimed_until <= now),
        )
        due = (
            sa.select(_M.c.id)
            .where(free)
            .order_by(_M.c.due_at, _M.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self._engine.begin() as conn:
            ids = list(conn.execute(due).scalars())
            if not ids:
                return []
            claim = (
                _M.update()
                .where(_M.c.id.in_(ids), free)
                .values(claimed_until=now + lease)
                .returning(*_M.c)
            )
            rows = conn.execute(claim).mappings().all()
        return sorted((convert.to_reminder(row) for row in rows), key=lambda r: (r.due_at, r.id))

    def mark_reminders_sent(
        self,
        ids: Iterable[str],
        now: datetime,
        *,
        audit: Iterable[AuditEvent] = (),
        lines: Sequence[Letter] = (),
    ) -> None:
        """Claimed reminders settled (their message queued, or nothing left to say): sent,
        never claimed again; with the audit rows saying so and their `lines` to the audit
        channel queued, in the same transaction (a batch claimed again after a crash is
        neither audited twice nor left unaudited, nor its rows without their lines)."""
        wanted, rows = list(ids), [convert.audit_values(event) for event in audit]
        if not wanted and not rows:
            return
        with self._engine.begin() as conn:
            if wanted:
                conn.execute(
                    _M.update()
                    .where(_M.c.id.in_(wanted), _M.c.sent_at.is_(None))
                    .values(sent_at=now, claimed_until=None)
                )
            if rows:
                conn.execute(tables.audit.insert(), rows)
            insert_letters(conn, lines, now)

    def delete_reminders(self, request_id: str) -> list[str]:
        """Forget a request's unsent reminders (early deactivation); return their ids
        so the caller can cancel the scheduler's jobs too."""
        where = sa.and_(_M.c.request_id == request_id, _M.c.sent_at.is_(None))
        with self._engine.begin() as conn:
            ids = list(conn.execute(sa.select(_M.c.id).where(where)).scalars())
            conn.execute(_M.delete().where(where))
        return ids
