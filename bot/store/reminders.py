"""Reminder rows: planned reminders, and the claim that makes each go out once."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.domain.reminders import Reminder
from bot.store import convert, tables
from bot.store.upsert import upsert

_M = tables.reminders


def _on_conflict(excluded: Any) -> dict[str, Any]:
    # Re-planning the same reminder id (after an extension) with a new moment means a
    # new message is due: clear sent_at. Same moment (a restart): keep what was sent.
    return {
        "kind": excluded.kind,
        "lead_seconds": excluded.lead_seconds,
        "due_at": excluded.due_at,
        "sent_at": sa.case((_M.c.due_at == excluded.due_at, _M.c.sent_at), else_=None),
    }


class ReminderMethods:
    """The reminder half of SqlStore (kept apart to keep each module small)."""

    _engine: Engine
    _reader: Engine

    def save_reminders(self, reminders: Iterable[Reminder]) -> None:
        """Insert or re-plan reminders by id (idempotent), in one transaction."""
        with self._engine.begin() as conn:
            for reminder in reminders:
                values = convert.reminder_values(reminder)
                upsert(conn, _M, values, key=["id"], on_conflict=_on_conflict)

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

    def claim_reminder(self, reminder_id: str, now: datetime) -> bool:
        """Mark a reminder sent; True for exactly one caller, who then sends it.

        Claim before sending: a crash in between loses one message rather than
        sending it twice (two processes, or a job that re-runs after a restart).
        """
        with self._engine.begin() as conn:
            result = conn.execute(
                _M.update()
                .where(_M.c.id == reminder_id, _M.c.sent_at.is_(None))
                .values(sent_at=now)
            )
            return result.rowcount == 1

    def delete_reminders(self, request_id: str) -> list[str]:
        """Forget a request's unsent reminders (early deactivation); return their ids
        so the caller can cancel the scheduler's jobs too."""
        where = sa.and_(_M.c.request_id == request_id, _M.c.sent_at.is_(None))
        with self._engine.begin() as conn:
            ids = list(conn.execute(sa.select(_M.c.id).where(where)).scalars())
            conn.execute(_M.delete().where(where))
        return ids
