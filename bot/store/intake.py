"""SqlIntake: `bot.service.intake.IntakeStore` on the `intake` table (v21)."""

from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.service.intake import Acked
from bot.store.tables import intake as _I


class SqlIntake:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def keep(self, item: Acked, holder: str, until: datetime) -> None:
        row = {
            "id": item.id,
            "kind": item.kind,
            "payload": json.dumps(item.payload),
            "at": item.at,
            "claimed_by": holder,
            "claimed_until": until,
        }
        with self._engine.begin() as conn:
            conn.execute(_I.insert(), row)

    def drop(self, item_id: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(_I.delete().where(_I.c.id == item_id))

    def renew(self, holder: str, until: datetime) -> None:
        with self._engine.begin() as conn:
            conn.execute(_I.update().where(_I.c.claimed_by == holder).values(claimed_until=until))

    def lapsed(self, now: datetime) -> list[Acked]:
        query = sa.select(_I).where(_I.c.claimed_until < now).order_by(_I.c.at)
        with self._engine.connect() as conn:
            return [
                Acked(row.id, row.kind, json.loads(row.payload), row.at)
                for row in conn.execute(query)
            ]

    def take(self, item_id: str, holder: str, now: datetime, until: datetime) -> bool:
        # As SqlLeases.take: under READ COMMITTED the second of two racing UPDATEs
        # re-checks the WHERE and finds the row no longer lapsed
        # (https://www.postgresql.org/docs/current/transaction-iso.html#XACT-READ-COMMITTED);
        # SQLite serialises writers.
        lapsed = (_I.c.id == item_id) & (_I.c.claimed_until < now)
        stmt = _I.update().where(lapsed).values(claimed_by=holder, claimed_until=until)
        with self._engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1
