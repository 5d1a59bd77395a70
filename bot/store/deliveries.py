"""SqlDeliveries: `bot.service.deliveries.Deliveries` in the `slack_deliveries` table (v18)."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from bot.service.deliveries import CLAIM_LEASE, Claim
from bot.store.tables import slack_deliveries as _D

KEEP = timedelta(days=1)  # Slack stops redelivering long before (retries end within hours)
PRUNE_EVERY = 500  # claims between two clear-outs of keys older than KEEP


class SqlDeliveries:
    blocking = True  # a transaction per call

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._claims = 0

    def claim(self, key: str, holder: str, now: datetime) -> Claim:
        # Each step is one statement that decides alone between replicas: the INSERT's
        # conflict on the primary key, then a conditional UPDATE (PostgreSQL re-checks its
        # WHERE on a row another transaction just changed; SQLite has one writer).
        with self._engine.begin() as conn:
            if _insert_new(conn, key, holder, now):
                outcome = Claim.MINE
            elif _take_over(conn, key, holder, now):
                outcome = Claim.MINE
            else:
                settled = conn.execute(sa.select(_D.c.settled).where(_D.c.key == key)).scalar()
                outcome = Claim.DONE if settled else Claim.BUSY
            self._prune(conn, now)
        return outcome

    def settle(self, key: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(_D.update().where(_D.c.key == key).values(settled=True))

    def _prune(self, conn: Connection, now: datetime) -> None:
        self._claims += 1
        if self._claims % PRUNE_EVERY == 0:
            conn.execute(_D.delete().where(_D.c.claimed_at < now - KEEP))


def _insert_new(conn: Connection, key: str, holder: str, now: datetime) -> bool:
    row = {"key": key, "holder": holder, "claimed_at": now, "settled": False}
    dialect = conn.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(_D).values(**row).on_conflict_do_nothing(index_elements=["key"])
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT … ON CONFLICT DO NOTHING.
    return conn.execute(stmt.returning(_D.c.key)).first() is not None


def _take_over(conn: Connection, key: str, holder: str, now: datetime) -> bool:
    stale = (_D.c.key == key) & _D.c.settled.is_(False) & (_D.c.claimed_at <= now - CLAIM_LEASE)
    stmt = _D.update().where(stale).values(holder=holder, claimed_at=now)
    return conn.execute(stmt).rowcount == 1
