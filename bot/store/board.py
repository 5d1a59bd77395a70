"""SqlBoardRefs: where the board message is (`bot.service.board.BoardRefs`), kept across
restarts so the board is edited, never posted again."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.store.engine import read_only
from bot.store.tables import board_messages as _B
from bot.store.upsert import upsert


class SqlBoardRefs:
    """One transaction per call."""

    def __init__(self, engine: Engine) -> None:
        self._engine, self._reader = engine, read_only(engine)

    def get_ref(self, name: str) -> str | None:
        with self._reader.begin() as conn:
            found = conn.execute(sa.select(_B.c.ref).where(_B.c.name == name)).scalar()
        return None if found is None else str(found)

    def save_ref(self, name: str, ref: str) -> None:
        values = {"name": name, "ref": ref, "updated_at": datetime.now(UTC)}
        with self._engine.begin() as conn:
            upsert(conn, _B, values, key=["name"])
