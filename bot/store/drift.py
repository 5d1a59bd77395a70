"""SqlDrift: readiness of activations and outside-pimbot activity seen, kept across
restarts (`bot.service.readiness.ReadinessStore`, `bot.service.reconcile.SeenStore`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from bot.domain.drift import Readiness, Stage
from bot.store.engine import read_only, writing
from bot.store.tables import outside_seen as _S
from bot.store.tables import readiness as _R
from bot.store.upsert import upsert


class SqlDrift:
    """One transaction per call."""

    def __init__(self, engine: Engine) -> None:
        self._engine, self._reader = engine, read_only(engine)
        # One statement, built once: the request's row unless it is there already.
        insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self._start = (
            insert(_R)
            .on_conflict_do_nothing(index_elements=[_R.c.request_id])
            .returning(_R.c.request_id)  # rowcount: -1 on psycopg here
        )

    # -- readiness ---------------------------------------------------------------------

    def start_readiness(self, progress: Readiness) -> bool:
        """Follow an activation; False if it is followed already (the first start wins)."""
        with writing(self._engine) as conn:
            return conn.execute(self._start, _values(progress)).first() is not None

    def save_readiness(self, progress: Readiness) -> None:
        with self._engine.begin() as conn:
            upsert(conn, _R, _values(progress), key=["request_id"])

    def get_readiness(self, request_id: str) -> Readiness | None:
        with self._reader.begin() as conn:
            row = conn.execute(sa.select(_R).where(_R.c.request_id == request_id)).mappings()
            found = row.first()
        return _readiness(found) if found else None

    def following(self) -> list[Readiness]:
        """Every activation not yet in effect, oldest first."""
        query = sa.select(_R).where(_R.c.stage != Stage.IN_EFFECT.value)
        with self._reader.begin() as conn:
            rows = conn.execute(query.order_by(_R.c.accepted_at)).mappings()
            return [_readiness(r) for r in rows]

    def stop_following(self, request_id: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(_R.delete().where(_R.c.request_id == request_id))

    # -- outside pimbot ------------------------------------------------------------------

    def seen(self, instance_ids: Iterable[str]) -> set[str]:
        wanted = list(instance_ids)
        if not wanted:
            return set()
        with self._reader.begin() as conn:
            rows = conn.execute(
                sa.select(_S.c.instance_id).where(_S.c.instance_id.in_(wanted))
            ).scalars()
            return set(rows)

    def mark_seen(self, instance_id: str, at: datetime, *, removed: bool = False) -> None:
        values = {"instance_id": instance_id, "seen_at": at, "removed_at": at if removed else None}
        with self._engine.begin() as conn:
            upsert(conn, _S, values, key=["instance_id"])


def _values(progress: Readiness) -> dict[str, object]:
    return {
        "request_id": progress.request_id,
        "accepted_at": progress.accepted_at,
        "stage": progress.stage.value,
        "late": progress.late,
        "in_effect_at": progress.in_effect_at,
    }


def _readiness(row: sa.RowMapping) -> Readiness:
    return Readiness(
        row["request_id"],
        row["accepted_at"],
        Stage(row["stage"]),
        bool(row["late"]),
        row["in_effect_at"],
    )
