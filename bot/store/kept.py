"""SqlKeptWork: commands kept for a chat user until they sign in (`bot.service.kept`).

One row per (user, kind, ref): an approver clicking Approve twice before signing in
keeps one decision, the latest.
"""

from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.domain.people import PersonKey
from bot.service.signins import KeptItem
from bot.store.engine import read_only
from bot.store.tables import deferred_work as _D
from bot.store.upsert import upsert


class SqlKeptWork:
    """Implements bot.service.signins.KeptStore; one transaction per call."""

    def __init__(self, engine: Engine) -> None:
        self._engine, self._reader = engine, read_only(engine)

    def keep(self, item: KeptItem, at: datetime) -> None:
        values = {
            "person": str(item.person),
            "kind": item.kind,
            "ref": item.ref,
            "data": json.dumps(item.data, sort_keys=True),
            "created_at": item.created_at or at,
        }
        with self._engine.begin() as conn:
            upsert(conn, _D, values, key=["person", "kind", "ref"])

    def waiting(self, person: PersonKey) -> list[KeptItem]:
        with self._reader.begin() as conn:
            return self._select(conn, person)

    def take(self, person: PersonKey) -> list[KeptItem]:
        """Everything kept for the user, oldest first, removed in the same transaction
        (two processes replaying at once cannot both get an item)."""
        with self._engine.begin() as conn:
            items = self._select(conn, person)
            conn.execute(_D.delete().where(_D.c.person == str(person)))
        return items

    def kept_before(self, cutoff: datetime) -> list[KeptItem]:
        """Every user's items kept since before `cutoff`, oldest first."""
        with self._reader.begin() as conn:
            rows = conn.execute(
                sa.select(_D).where(_D.c.created_at < cutoff).order_by(_D.c.created_at)
            ).mappings()
            return [_item(r) for r in rows]

    def drop(self, person: PersonKey, kind: str, ref: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                _D.delete().where(_D.c.person == str(person), _D.c.kind == kind, _D.c.ref == ref)
            )

    @staticmethod
    def _select(conn: sa.Connection, person: PersonKey) -> list[KeptItem]:
        rows = conn.execute(
            sa.select(_D)
            .where(_D.c.person == str(person))
            .order_by(_D.c.created_at, _D.c.kind, _D.c.ref)
        ).mappings()
        return [_item(r) for r in rows]


def _item(row: sa.RowMapping) -> KeptItem:
    data = json.loads(row["data"])
    person = PersonKey.parse(row["person"])
    return KeptItem(person, row["kind"], row["ref"], data, row["created_at"])
