"""Break-glass rows: the ratification deadline, one row per ratifying approver, and the
compare-and-sets that settle a break-glass, and end it, exactly once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, RowMapping
from sqlalchemy.exc import IntegrityError

from bot.domain.breakglass import BreakGlassRecord, GlassState, Ratification
from bot.domain.people import PersonKey
from bot.store import tables

_G = tables.break_glass
_R = tables.ratifications
_PEOPLE = ("requester", "settled_by")


class BreakGlassMethods:
    """The break-glass half of SqlStore (kept apart to keep each module small)."""

    _engine: Engine
    _reader: Engine

    def add_break_glass(self, glass: BreakGlassRecord) -> None:
        with self._engine.begin() as conn:
            conn.execute(_G.insert().values(**_values(glass)))

    def get_break_glass(self, request_id: str) -> BreakGlassRecord | None:
        with self._reader.begin() as conn:
            return _load(conn, request_id)

    def list_break_glass(
        self,
        *,
        states: frozenset[GlassState] | None = None,
        requester: PersonKey | None = None,
        since: datetime | None = None,
    ) -> list[BreakGlassRecord]:
        query = sa.select(_G.c.request_id).order_by(_G.c.started_at, _G.c.request_id)
        if states is not None:
            query = query.where(_G.c.state.in_([s.value for s in states]))
        if requester is not None:
            query = query.where(_G.c.requester == str(requester))
        if since is not None:
            query = query.where(_G.c.started_at > since)
        with self._reader.begin() as conn:
            ids = list(conn.execute(query).scalars())
            return [g for g in (_load(conn, i) for i in ids) if g is not None]

    def add_ratification(
        self, request_id: str, person: PersonKey, at: datetime
    ) -> BreakGlassRecord | None:
        """`person`'s ratification, while the break-glass awaits, and its settling as
        ratified once enough approvers have, in one transaction: a Revoke (or the
        deadline) either comes before it and it is refused, or after it and finds it
        ratified. None if it no longer awaits or `person` already ratified it."""
        try:
            with self._engine.begin() as conn:
                return _ratify(conn, request_id, str(person), at)
        except IntegrityError:  # the same approver's second click, at the same moment
            return None

    def settle_break_glass(
        self,
        request_id: str,
        expected: frozenset[GlassState],
        new: GlassState,
        **changes: object,
    ) -> BreakGlassRecord | None:
        """Compare-and-set on the state: of racing writers exactly one wins."""
        values = _change_values({**changes, "state": new})
        with self._engine.begin() as conn:
            done = conn.execute(
                _G.update()
                .where(_G.c.request_id == request_id, _G.c.state.in_([s.value for s in expected]))
                .values(**values)
            )
            return _load(conn, request_id) if done.rowcount == 1 else None

    def update_break_glass(self, request_id: str, **changes: object) -> BreakGlassRecord:
        with self._engine.begin() as conn:
            conn.execute(
                _G.update().where(_G.c.request_id == request_id).values(**_change_values(changes))
            )
            found = _load(conn, request_id)
        if found is None:
            raise KeyError(f"no break-glass {request_id!r}")
        return found

    def claim_glass_end(self, request_id: str, now: datetime) -> BreakGlassRecord | None:
        """The one caller that ends a revoked or lapsed break-glass whose end is due."""
        with self._engine.begin() as conn:
            done = conn.execute(
                _G.update()
                .where(
                    _G.c.request_id == request_id,
                    _G.c.ended_at.is_(None),
                    _G.c.end_at.is_not(None),
                    _G.c.end_at <= now,
                )
                .values(ended_at=now)
            )
            return _load(conn, request_id) if done.rowcount == 1 else None


def _ratify(
    conn: Connection, request_id: str, person: str, at: datetime
) -> BreakGlassRecord | None:
    awaiting = (_G.c.request_id == request_id) & (_G.c.state == GlassState.AWAITING.value)
    # Writing the row first takes its lock: concurrent settlings wait for this one.
    if conn.execute(_G.update().where(awaiting).values(state=_G.c.state)).rowcount != 1:
        return None
    mine = (_R.c.request_id == request_id) & (_R.c.person == person)
    if conn.execute(sa.select(_R.c.person).where(mine)).first() is not None:
        return None
    conn.execute(_R.insert().values(request_id=request_id, person=person, at=at))
    count = sa.select(sa.func.count()).where(_R.c.request_id == request_id).scalar_subquery()
    conn.execute(
        _G.update()
        .where(awaiting, _G.c.required <= count)
        .values(state=GlassState.RATIFIED.value, settled_by=person, settled_at=at)
    )
    return _load(conn, request_id)


def _load(conn: Connection, request_id: str) -> BreakGlassRecord | None:
    row = conn.execute(sa.select(_G).where(_G.c.request_id == request_id)).mappings().first()
    if row is None:
        return None
    votes = conn.execute(
        sa.select(_R).where(_R.c.request_id == request_id).order_by(_R.c.at, _R.c.person)
    ).mappings()
    return _record(row, tuple(Ratification(PersonKey.parse(v["person"]), v["at"]) for v in votes))


def _record(row: RowMapping, votes: tuple[Ratification, ...]) -> BreakGlassRecord:
    values: dict[str, Any] = dict(row)
    for name in _PEOPLE:
        values[name] = PersonKey.parse(values[name]) if values[name] else None
    values["state"] = GlassState(values["state"])
    return BreakGlassRecord(**values, ratified_by=votes)


def _values(glass: BreakGlassRecord) -> dict[str, Any]:
    values = {c.name: getattr(glass, c.name) for c in _G.columns}
    return _change_values(values)


def _change_values(changes: dict[str, object]) -> dict[str, Any]:
    values: dict[str, Any] = dict(changes)
    for name in _PEOPLE:
        if values.get(name) is not None:
            values[name] = str(values[name])
    if isinstance(values.get("state"), GlassState):
        values["state"] = values["state"].value
    return values
