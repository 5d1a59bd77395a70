"""SqlOutbox: `bot.service.outbox.Outbox` over SQLAlchemy Core, one transaction per call.

A parcel stays `pending` until the chat accepted it (`delivered`) or the courier gave up
(`given_up`); a restart finds the pending ones here and sends them, in id order per lane.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from bot.clock import Clock
from bot.service.outbox import Parcel
from bot.store.engine import read_only
from bot.store.tables import outbox as _O

PENDING, DELIVERED, GIVEN_UP = "pending", "delivered", "given_up"


class SqlOutbox:
    """Parcels in the `outbox` table (migration v9)."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine, self._reader, self._clock = engine, read_only(engine), clock

    def put(
        self,
        lane: str,
        kind: str,
        body: dict[str, Any],
        *,
        give_up_at: datetime,
        card: str | None = None,
        dedupe: str | None = None,
    ) -> int:
        now = self._clock.now()
        values = {
            "lane": lane,
            "kind": kind,
            "body": json.dumps(body),
            "card": card,
            "state": PENDING,
            "attempts": 0,
            "not_before": now,
            "give_up_at": give_up_at,
            "created_at": now,
            "dedupe": dedupe,
        }
        with self._engine.begin() as conn:
            if dedupe is not None:
                return _put_once(conn, values)
            key = conn.execute(_O.insert().values(**values)).inserted_primary_key
        return int(key[0]) if key else 0

    def head(self, lane: str) -> Parcel | None:
        query = (
            sa.select(_O)
            .where((_O.c.state == PENDING) & (_O.c.lane == lane))
            .order_by(_O.c.id)
            .limit(1)
        )
        with self._reader.begin() as conn:
            row = conn.execute(query).mappings().first()
        return _parcel(row) if row else None

    def due(self, now: datetime) -> list[Parcel]:
        heads = sa.select(sa.func.min(_O.c.id)).where(_O.c.state == PENDING).group_by(_O.c.lane)
        query = (
            sa.select(_O)
            .where(_O.c.id.in_(heads.scalar_subquery()) & (_O.c.not_before <= now))
            .order_by(_O.c.id)
        )
        with self._reader.begin() as conn:
            return [_parcel(row) for row in conn.execute(query).mappings()]

    def backlog(self) -> tuple[int, float]:
        """How many parcels wait, and the oldest one's age in seconds (0 when none)."""
        query = sa.select(sa.func.count(), sa.func.min(_O.c.created_at)).where(
            _O.c.state == PENDING
        )
        with self._reader.begin() as conn:
            count, oldest = conn.execute(query).one()
        if oldest is None:
            return 0, 0.0
        return int(count), max((self._clock.now() - oldest).total_seconds(), 0.0)

    def claim(self, parcel_id: int, holder: str, now: datetime, until: datetime) -> bool:
        # One conditional UPDATE decides between replicas: PostgreSQL re-checks the WHERE
        # on the row a concurrent claim just committed (READ COMMITTED, "the second updater
        # ... re-evaluates its WHERE clause"; postgresql.org/docs/current/transaction-iso.html),
        # SQLite runs one writer at a time. Exactly one of two claimants sees a row changed.
        free: sa.ColumnElement[bool] = _O.c.claimed_until.is_(None) | (_O.c.claimed_until <= now)
        if self._engine.dialect.name == "sqlite":
            # One process per file (bot/store/single.py): a claim there is a dead run's,
            # and its restart sends the parcel at once rather than a minute later.
            free = sa.true()
        query = (
            _O.update()
            .where((_O.c.id == parcel_id) & (_O.c.state == PENDING))
            .where(free | (_O.c.claimed_by == holder))
            .values(claimed_by=holder, claimed_until=until)
        )
        with self._engine.begin() as conn:
            return conn.execute(query).rowcount == 1

    def release(self, parcel_id: int, holder: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                _O.update()
                .where((_O.c.id == parcel_id) & (_O.c.claimed_by == holder))
                .values(claimed_by=None, claimed_until=None)
            )

    def card_ref(self, card: str) -> str | None:
        query = (
            sa.select(_O.c.ref)
            .where((_O.c.card == card) & _O.c.kind.in_(("post", "dm")) & (_O.c.state == DELIVERED))
            .order_by(_O.c.id.desc())
            .limit(1)
        )
        with self._reader.begin() as conn:
            ref = conn.execute(query).scalar()
        return str(ref) if ref else None

    def delivered(self, parcel_id: int, ref: str | None) -> None:
        self._finish(parcel_id, DELIVERED, ref=ref)

    def retry(self, parcel_id: int, not_before: datetime, error: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                _O.update()
                .where(_O.c.id == parcel_id)
                .values(attempts=_O.c.attempts + 1, not_before=not_before, error=error[:200])
                # Released: whichever replica is free when it falls due tries again.
                .values(claimed_by=None, claimed_until=None)
            )

    def give_up(self, parcel_id: int, error: str) -> None:
        self._finish(parcel_id, GIVEN_UP, error=error[:200])

    def prune(self, before: datetime) -> int:
        done = (_O.c.state != PENDING) & (_O.c.done_at < before)
        with self._engine.begin() as conn:
            return int(conn.execute(_O.delete().where(done)).rowcount or 0)

    def _finish(self, parcel_id: int, state: str, **values: object) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                _O.update()
                .where((_O.c.id == parcel_id) & (_O.c.state == PENDING))
                .values(state=state, done_at=self._clock.now(), **values)
            )


def _put_once(conn: Connection, values: dict[str, Any]) -> int:
    """Insert unless the key is there (atomic on both dialects: the unique index decides
    between two processes); the id of the parcel holding the key either way."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(_O).values(**values).on_conflict_do_nothing().returning(_O.c.id)
    made = conn.execute(stmt).scalar()
    if made is None:
        made = conn.execute(sa.select(_O.c.id).where(_O.c.dedupe == values["dedupe"])).scalar()
    return int(made or 0)


def _parcel(row: Any) -> Parcel:
    return Parcel(
        id=int(row["id"]),
        lane=row["lane"],
        kind=row["kind"],
        body=json.loads(row["body"]),
        card=row["card"],
        attempts=int(row["attempts"]),
        not_before=row["not_before"],
        give_up_at=row["give_up_at"],
        error=row["error"],
    )
