"""SqlOutbox: `bot.service.outbox.Outbox` over SQLAlchemy Core, one transaction per call.

A parcel stays `pending` until the chat accepted it (`delivered`) or the courier gave up
(`given_up`); a restart finds the pending ones here and sends them, in id order per lane.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from bot.clock import Clock
from bot.service.outbox import Letter, Parcel
from bot.store.engine import read_only
from bot.store.tables import outbox as _O

PENDING, DELIVERED, GIVEN_UP = "pending", "delivered", "given_up"

# Statements are built once and take their values as parameters (bot/store/sql.py says
# why; "_" names are binds). A message sent by the replica that put it costs two
# transactions: the put claims the lane's head, the delivered mark claims the next one.
_PUT = _O.insert()
_HEAD = (
    sa.select(_O)
    .where((_O.c.state == PENDING) & (_O.c.lane == sa.bindparam("_lane")))
    .order_by(_O.c.id)
    .limit(1)
)
# A letter whose `dedupe` key is taken queues nothing (built once per dialect).
_PUT_NEW = {
    "sqlite": sqlite.insert(_O).on_conflict_do_nothing(),
    "postgresql": postgresql.insert(_O).on_conflict_do_nothing(),
}
_FINISH = _O.update().where((_O.c.id == sa.bindparam("_id")) & (_O.c.state == PENDING))
_FINISH_MANY = _O.update().where(
    _O.c.id.in_(sa.bindparam("_ids", expanding=True)) & (_O.c.state == PENDING)
)
_FOLLOWING = (
    sa.select(_O)
    .where((_O.c.state == PENDING) & (_O.c.lane == sa.bindparam("_lane")))
    .where(_O.c.id > sa.bindparam("_after"))
    .order_by(_O.c.id)
    .limit(sa.bindparam("_limit", type_=sa.Integer))
)


class SqlOutbox:
    """Parcels in the `outbox` table (migration v9)."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine, self._reader, self._clock = engine, read_only(engine), clock
        self._claim = _claim_statement(engine.dialect.name)
        self._claim_heads = _claim_heads_statement(engine.dialect.name, some_lanes=False)
        self._claim_lane_heads = _claim_heads_statement(engine.dialect.name, some_lanes=True)
        self._claim_lane_head = _claim_head_statement(engine.dialect.name)

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
        values = _row(Letter(lane, kind, body, give_up_at, dedupe), now, card)
        with self._engine.begin() as conn:
            return _put(conn, values)

    def put_and_claim(
        self,
        lane: str,
        kind: str,
        body: dict[str, Any],
        *,
        give_up_at: datetime,
        holder: str,
        until: datetime,
        card: str | None = None,
        dedupe: str | None = None,
    ) -> Parcel | None:
        now = self._clock.now()
        values = _row(Letter(lane, kind, body, give_up_at, dedupe), now, card)
        with self._engine.begin() as conn:
            _put(conn, values)
            claimed = self._claim_in(conn, [lane], holder, now, until)
        return claimed[0] if claimed else None

    def put_many(
        self, letters: list[Letter], *, holder: str | None = None, until: datetime | None = None
    ) -> list[Parcel]:
        """One statement for them all; a `dedupe` key already there is skipped (the unique
        index decides, as in `put`). With `holder`, the heads of their lanes are claimed
        for it in the same transaction."""
        if not letters:
            return []
        now = self._clock.now()
        with self._engine.begin() as conn:
            insert_letters(conn, letters, now)
            if holder is None or until is None:
                return []
            lanes = list(dict.fromkeys(letter.lane for letter in letters))
            return self._claim_in(conn, lanes, holder, now, until)

    def head(self, lane: str) -> Parcel | None:
        with self._reader.begin() as conn:
            row = conn.execute(_HEAD, {"_lane": lane}).mappings().first()
        return _parcel(row) if row else None

    def following(self, parcel: Parcel, limit: int) -> list[Parcel]:
        params = {"_lane": parcel.lane, "_after": parcel.id, "_limit": limit}
        with self._reader.begin() as conn:
            return [_parcel(row) for row in conn.execute(_FOLLOWING, params).mappings()]

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
        params = {"_id": parcel_id, "_holder": holder, "_now": now, "claimed_until": until}
        with self._engine.begin() as conn:
            return conn.execute(self._claim, params).rowcount == 1

    def claim_due(
        self, holder: str, now: datetime, until: datetime, limit: int, *, busy: list[str]
    ) -> list[Parcel]:
        params = {"_holder": holder, "_now": now, "_until": until, "_limit": limit}
        with self._engine.begin() as conn:
            rows = conn.execute(self._claim_heads, {**params, "_busy": busy}).mappings().all()
        return sorted((_parcel(row) for row in rows), key=lambda p: p.id)

    def claim_heads(
        self, lanes: list[str], holder: str, now: datetime, until: datetime
    ) -> list[Parcel]:
        with self._engine.begin() as conn:
            return self._claim_in(conn, lanes, holder, now, until)

    def _claim_in(
        self, conn: Connection, lanes: list[str], holder: str, now: datetime, until: datetime
    ) -> list[Parcel]:
        params = {"_holder": holder, "_now": now, "_until": until}
        if len(lanes) == 1:  # after each message: the plainer statement costs less
            row = conn.execute(self._claim_lane_head, {**params, "_lane": lanes[0]}).mappings()
            return [_parcel(one) for one in row.all()]
        params = {**params, "_limit": len(lanes), "_lanes": lanes}
        rows = conn.execute(self._claim_lane_heads, params).mappings()
        return sorted((_parcel(row) for row in rows.all()), key=lambda p: p.id)

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

    def latest_refs(self, kind: str) -> dict[str, str]:
        query = (
            sa.select(_O.c.lane, _O.c.ref)
            .where((_O.c.state == DELIVERED) & (_O.c.kind == kind) & _O.c.ref.is_not(None))
            .order_by(_O.c.id)
        )
        with self._reader.begin() as conn:
            return {str(lane): str(ref) for lane, ref in conn.execute(query)}

    def delivered(self, parcel_id: int, ref: str | None) -> None:
        self._finish(parcel_id, DELIVERED, ref=ref)

    def delivered_next(
        self,
        parcel: Parcel,
        ref: str | None,
        holder: str,
        until: datetime,
        *,
        also: Sequence[int] = (),
    ) -> Parcel | None:
        now = self._clock.now()
        done = {"state": DELIVERED, "done_at": now, "ref": ref}
        with self._engine.begin() as conn:
            if also:
                conn.execute(_FINISH_MANY, {**done, "_ids": [parcel.id, *also]})
            else:
                conn.execute(_FINISH, {**done, "_id": parcel.id})
            claimed = self._claim_in(conn, [parcel.lane], holder, now, until)
        return claimed[0] if claimed else None

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
        params = {"_id": parcel_id, "state": state, "done_at": self._clock.now(), **values}
        with self._engine.begin() as conn:
            conn.execute(_FINISH, params)


def _claim_statement(dialect: str) -> sa.Update:
    """One conditional UPDATE decides between replicas: PostgreSQL re-checks the WHERE
    on the row a concurrent claim just committed (READ COMMITTED, "the second updater
    ... re-evaluates its WHERE clause"; postgresql.org/docs/current/transaction-iso.html),
    SQLite runs one writer at a time. Exactly one of two claimants sees a row changed."""
    holder = sa.bindparam("_holder", type_=_O.c.claimed_by.type)
    free: sa.ColumnElement[bool] = _O.c.claimed_until.is_(None) | (
        _O.c.claimed_until <= sa.bindparam("_now", type_=_O.c.claimed_until.type)
    )
    if dialect == "sqlite":
        # One process per file (bot/store/single.py): a claim there is a dead run's,
        # and its restart sends the parcel at once rather than a minute later.
        free = sa.true()
    return (
        _O.update()
        .where((_O.c.id == sa.bindparam("_id")) & (_O.c.state == PENDING))
        .where(free | (_O.c.claimed_by == holder))
        .values(claimed_by=holder)
    )


def _claim_head_statement(dialect: str) -> sa.Update:
    """`_claim_heads_statement` for one lane, `_lane`: its head is the one row the
    UPDATE may change, so no batch to lock ahead (PostgreSQL waits on a row another
    claimant holds, then re-checks it, as in `_claim_statement`)."""
    head = _O.alias("head")
    first = sa.select(sa.func.min(head.c.id)).where(
        (head.c.state == PENDING) & (head.c.lane == sa.bindparam("_lane"))
    )
    now = sa.bindparam("_now", type_=_O.c.claimed_until.type)
    holder = sa.bindparam("_holder", type_=_O.c.claimed_by.type)
    free: sa.ColumnElement[bool] = (
        _O.c.claimed_until.is_(None) | (_O.c.claimed_until <= now) | (_O.c.claimed_by == holder)
    )
    if dialect == "sqlite":
        free = sa.true()
    return (
        _O.update()
        .where((_O.c.id == first.scalar_subquery()) & (_O.c.state == PENDING))
        .where((_O.c.not_before <= now) & free)
        .values(
            claimed_by=holder, claimed_until=sa.bindparam("_until", type_=_O.c.claimed_until.type)
        )
        .returning(*_O.c)
    )


def _claim_heads_statement(dialect: str, *, some_lanes: bool) -> sa.Update:
    """Claim the due heads of lanes (all but `_busy`, or `_lanes`), at most `_limit`, in one
    statement; the rows claimed come back (RETURNING: PostgreSQL, SQLite >= 3.35).

    A head is free when unclaimed, its claim lapsed, or already `_holder`'s (a replica
    renews its own). On PostgreSQL the heads are locked `FOR UPDATE SKIP LOCKED`: two
    replicas claiming at once skip each other's rows rather than wait or deadlock, and
    a row another committed meanwhile is re-checked against the WHERE ("rows that have
    been updated ... re-checked", postgresql.org/docs/current/sql-select.html#SQL-FOR-UPDATE-SHARE).
    SQLite: one writer at a time, and any claim found is a dead run's (`_claim_statement`)."""
    head, pick = _O.alias("head"), _O.alias("pick")
    heads = sa.select(sa.func.min(head.c.id)).where(head.c.state == PENDING)
    if some_lanes:
        heads = heads.where(head.c.lane.in_(sa.bindparam("_lanes", expanding=True)))
    else:  # lanes this process is sending already: theirs to go on with
        heads = heads.where(head.c.lane.not_in(sa.bindparam("_busy", expanding=True)))
    heads = heads.group_by(head.c.lane)
    now = sa.bindparam("_now", type_=_O.c.claimed_until.type)
    holder = sa.bindparam("_holder", type_=_O.c.claimed_by.type)

    def free(table: sa.TableClause | Any) -> sa.ColumnElement[bool]:
        if dialect == "sqlite":
            return sa.true()
        c = table.c
        return c.claimed_until.is_(None) | (c.claimed_until <= now) | (c.claimed_by == holder)

    chosen = (
        sa.select(pick.c.id)
        .where(pick.c.id.in_(heads) & (pick.c.state == PENDING) & (pick.c.not_before <= now))
        .where(free(pick))
        .order_by(pick.c.id)
        .limit(sa.bindparam("_limit", type_=sa.Integer))
        .with_for_update(skip_locked=True)
        .cte("chosen")  # evaluated once: a subquery may run again and pass its LIMIT
    )
    return (
        _O.update()
        .where(_O.c.id.in_(sa.select(chosen.c.id)) & (_O.c.state == PENDING))
        .where(free(_O))
        .values(
            claimed_by=holder, claimed_until=sa.bindparam("_until", type_=_O.c.claimed_until.type)
        )
        .returning(*_O.c)
    )


def _row(letter: Letter, now: datetime, card: str | None = None) -> dict[str, Any]:
    """A new pending parcel's row, due now."""
    return {
        "lane": letter.lane,
        "kind": letter.kind,
        "body": json.dumps(letter.body),
        "card": card,
        "state": PENDING,
        "attempts": 0,
        "not_before": now,
        "give_up_at": letter.give_up_at,
        "created_at": now,
        "dedupe": letter.dedupe,
    }


def insert_letters(conn: Connection, letters: Sequence[Letter], now: datetime) -> None:
    """Queue `letters` in the caller's transaction (one statement); a `dedupe` key already
    there is skipped. The store queues an audit row's line with the row this way."""
    if not letters:
        return
    rows = [_row(letter, now) for letter in letters]
    conn.execute(_PUT_NEW[conn.dialect.name], rows)


def _put(conn: Connection, values: dict[str, Any]) -> int:
    if values["dedupe"] is not None:
        return _put_once(conn, values)
    key = conn.execute(_PUT, values).inserted_primary_key
    return int(key[0]) if key else 0


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
