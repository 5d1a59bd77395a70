"""Approver pings: one row per re-ping or escalation sent, its primary key the claim."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from bot.domain.nudges import Pinged, PingKind
from bot.store import tables

_P = tables.approver_pings


class PingMethods:
    """The approver-ping half of SqlStore (kept apart to keep each module small)."""

    _engine: Engine
    _reader: Engine

    def claim_ping(self, request_id: str, kind: PingKind, seq: int, at: datetime) -> bool:
        """Record a ping as sent; True for exactly one caller, who then sends it. Claimed
        before sending, like reminders: two sweeps at once, or a sweep after a restart,
        find the row and send nothing."""
        values = {"request_id": request_id, "kind": kind.value, "seq": seq, "sent_at": at}
        with self._engine.begin() as conn:
            insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            stmt = insert(_P).values(**values).on_conflict_do_nothing().returning(_P.c.seq)
            # The row comes back only if this insert made it (psycopg reports no rowcount
            # for ON CONFLICT DO NOTHING).
            return conn.execute(stmt).first() is not None

    def pinged(self, request_ids: Collection[str]) -> dict[str, Pinged]:
        """What was sent for each request that has had a ping (others are left out)."""
        if not request_ids:
            return {}
        query = sa.select(_P.c.request_id, _P.c.kind, _P.c.seq).where(
            _P.c.request_id.in_(list(request_ids))
        )
        found: dict[str, Pinged] = {}
        with self._reader.begin() as conn:
            for request_id, kind, seq in conn.execute(query):
                was = found.get(request_id, Pinged())
                if kind == PingKind.ESCALATE:
                    found[request_id] = Pinged(was.reminded, was.last, escalated=True)
                else:
                    found[request_id] = Pinged(was.reminded + 1, max(was.last, seq), was.escalated)
        return found
