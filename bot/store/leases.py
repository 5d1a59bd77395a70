"""SqlLeases: `bot.service.leases.LeaseStore` on the `requests` table's lease columns (v19).

Only requests on their way to Graph (requested and checked, approved, activating) carry
a lease that counts: every statement is limited to those states, so a lease left on a
request that moved on is ignored.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.domain.requests import RequestState
from bot.store.tables import requests as _R

# Checked and due for Graph, approved (about to be activated), or being activated. Only
# requests that need nothing more than an activation are ever leased in these states.
_LEASED = (RequestState.REQUESTED, RequestState.APPROVED, RequestState.ACTIVATING)
_ACTIVATING = _R.c.state.in_([state.value for state in _LEASED])


class SqlLeases:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def hold(self, request_id: str, holder: str, until: datetime) -> None:
        # Whoever moved the request to `activating` owns it: a lease another replica
        # left from an earlier attempt (then released) is simply overwritten.
        stmt = (
            _R.update()
            .where((_R.c.id == request_id) & _ACTIVATING)
            .values(claimed_by=holder, claimed_until=until)
        )
        with self._engine.begin() as conn:
            conn.execute(stmt)

    def renew(self, request_ids: Collection[str], holder: str, until: datetime) -> None:
        if not request_ids:
            return
        # Never back from a survivor that took it over while this replica stalled.
        mine = _R.c.id.in_(list(request_ids)) & _ACTIVATING & (_R.c.claimed_by == holder)
        with self._engine.begin() as conn:
            conn.execute(_R.update().where(mine).values(claimed_until=until))

    def release(self, request_id: str, holder: str) -> None:
        # Done with it, whatever state it is left in (followed by the sweep while Entra
        # applies it; kept until its user signs in): nobody is to take it over.
        stmt = (
            _R.update()
            .where((_R.c.id == request_id) & (_R.c.claimed_by == holder))
            .values(claimed_until=None)
        )
        with self._engine.begin() as conn:
            conn.execute(stmt)

    def lapsed(self, now: datetime) -> list[str]:
        lapsed = _ACTIVATING & _R.c.claimed_until.is_not(None) & (_R.c.claimed_until < now)
        with self._engine.connect() as conn:
            return [str(i) for i in conn.execute(sa.select(_R.c.id).where(lapsed)).scalars()]

    def leased(self) -> set[str]:
        held = _ACTIVATING & _R.c.claimed_until.is_not(None)
        with self._engine.connect() as conn:
            return {str(i) for i in conn.execute(sa.select(_R.c.id).where(held)).scalars()}

    def live(self, now: datetime) -> set[str]:
        live = _ACTIVATING & (_R.c.claimed_until >= now)
        with self._engine.connect() as conn:
            return {str(i) for i in conn.execute(sa.select(_R.c.id).where(live)).scalars()}

    def take(self, request_id: str, holder: str, now: datetime, until: datetime) -> bool:
        # One conditional UPDATE decides between replicas racing for the same lapsed
        # lease: under READ COMMITTED PostgreSQL re-checks the WHERE of an UPDATE on a
        # row another transaction just updated, so the second finds it no longer lapsed
        # (https://www.postgresql.org/docs/current/transaction-iso.html#XACT-READ-COMMITTED).
        lapsed = (_R.c.id == request_id) & _ACTIVATING & (_R.c.claimed_until < now)
        stmt = _R.update().where(lapsed).values(claimed_by=holder, claimed_until=until)
        with self._engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1
