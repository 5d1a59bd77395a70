"""SqlKeptWork: commands kept for a chat user until they sign in (`bot.service.kept`).

One row per (user, kind, ref): an approver clicking Approve twice before signing in
keeps one decision, the latest.
"""

from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

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
            "slack_user_id": item.slack_user_id,
            "kind": item.kind,
            "ref": item.ref,
            "data": json.dumps(item.data, sort_keys=True),
            "created_at": item.created_at or at,
        }
        with self._engine.begin() as conn:
            upsert(conn, _D, values, key=["slack_user_id", "kind", "ref"])

    def waiting(self, slack_user_id: str) -> list[KeptItem]:
        with self._reader.begin() as conn:
            return self._select(conn, slack_user_id)

    def take(self, slack_user_id: str) -> list[KeptItem]:
        """Everything kept for the user, oldest first, removed in the same transaction
        (two processes replaying at once cannot both get an item)."""
        with self._engine.begin() as conn:
            items = self._select(conn, slack_user_id)
            conn.execute(_D.delete().where(_D.c.slack_user_id == slack_user_id))
        return items

    def kept_before(self, cutoff: datetime) -> list[KeptItem]:
        """Every user's items kept since before `cutoff`, oldest first."""
        with self._reader.begin() as conn:
            rows = conn.execute(
                sa.select(_D).where(_D.c.created_at < cutoff).order_by(_D.c.created_at)
            ).mappings()
            return [_item(r) for r in rows]

    def drop(self, slack_user_id: str, kind: str, ref: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                _D.delete().where(
                    _D.c.slack_user_id == slack_user_id, _D.c.kind == kind, _D.c.ref == ref
                )
            )

    @staticmethod
    def _select(conn: sa.Connection, slack_user_id: str) -> list[KeptItem]:
        rows = conn.execute(
            sa.select(_D)
            .where(_D.c.slack_user_id == slack_user_id)
            .order_by(_D.c.created_at, _D.c.kind, _D.c.ref)
        ).mappings()
        return [_item(r) for r in rows]


def _item(row: sa.RowMapping) -> KeptItem:
    data = json.loads(row["data"])
    return KeptItem(row["slack_user_id"], row["kind"], row["ref"], data, row["created_at"])
