"""SqlStore: the `bot.service.ports.Store` over SQLAlchemy Core, one transaction per call."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine

from bot.clock import Clock, SystemClock
from bot.domain.audit import AuditEvent
from bot.domain.people import PersonKey
from bot.domain.requests import TRANSITIONS, ActivationRecord, RequestState
from bot.service.ports import UserLink
from bot.store import convert, migrations, tables
from bot.store.approvals import ApprovalMethods
from bot.store.break_glass import BreakGlassMethods
from bot.store.convert import Decision
from bot.store.engine import make_engine, read_only
from bot.store.pings import PingMethods
from bot.store.reminders import ReminderMethods
from bot.store.upsert import upsert

DEFAULT_URL = "sqlite:///pimbot.db"
_DECISION_FIELDS = frozenset({"decided_by", "decided_at"})
_R = tables.requests


class SqlStore(ReminderMethods, BreakGlassMethods, PingMethods, ApprovalMethods):
    """Requests, decisions, user links, the audit log and reminders in one database."""

    def __init__(self, engine: Engine, *, clock: Clock | None = None, migrate: bool = True):
        self._engine = engine
        self._reader = read_only(engine)
        self._clock = clock or SystemClock()
        if migrate:
            migrations.migrate(engine)

    @classmethod
    def from_url(cls, url: str | URL = DEFAULT_URL, *, clock: Clock | None = None) -> SqlStore:
        """SQLite by default, PostgreSQL with `postgresql+psycopg://…`; migrated on open."""
        return cls(make_engine(url), clock=clock)

    @property
    def engine(self) -> Engine:
        return self._engine

    def close(self) -> None:
        self._engine.dispose()

    # -- requests ---------------------------------------------------------------

    def add_request(self, record: ActivationRecord) -> None:
        with self._engine.begin() as conn:
            conn.execute(_R.insert().values(**convert.record_values(record)))

    def get_request(self, request_id: str) -> ActivationRecord | None:
        with self._reader.begin() as conn:
            return _load(conn, request_id)

    def transition(
        self,
        request_id: str,
        expected: frozenset[RequestState],
        new: RequestState,
        **changes: object,
    ) -> ActivationRecord | None:
        """Compare-and-set in the database: exactly one of several racing writers wins.

        A decision (`decided_by`/`decided_at` among the changes) is recorded in the
        decisions table in the same transaction, so it exists iff the transition won.
        """
        _check_transition(expected, new)
        values = self._values(changes, state=new)
        with self._engine.begin() as conn:
            result = conn.execute(
                _R.update()
                .where(_R.c.id == request_id, _R.c.state.in_([s.value for s in expected]))
                .values(**values)
            )
            if result.rowcount != 1:
                return None
            record = _load(conn, request_id)
            assert record is not None  # noqa: S101 -- the row was just updated
            if _DECISION_FIELDS & changes.keys():
                conn.execute(
                    tables.decisions.insert().values(
                        request_id=request_id,
                        decision=new.value,
                        decided_by=str(record.decided_by) if record.decided_by else None,
                        decided_at=record.decided_at,
                        reason=record.decision_reason,
                    )
                )
            return record

    def update_request(self, request_id: str, **changes: object) -> ActivationRecord:
        """Change fields other than the state (states move only through `transition`)."""
        values = self._values(changes)
        with self._engine.begin() as conn:
            result = conn.execute(_R.update().where(_R.c.id == request_id).values(**values))
            if result.rowcount != 1:
                raise KeyError(f"no request {request_id!r}")
            record = _load(conn, request_id)
            assert record is not None  # noqa: S101 -- the row was just updated
            return record

    def claim_end(
        self, request_id: str, expected: datetime | None, new: datetime | None
    ) -> ActivationRecord | None:
        """Compare-and-set on a live request's end: move it from `expected` to `new` only
        if the request is still active and ends at `expected`, so of two clicks on the
        same Extend or Deactivate exactly one goes on to Graph."""
        values = self._values({"end": new})
        same_end = _R.c.end.is_(None) if expected is None else _R.c.end == expected
        active = _R.c.state == RequestState.ACTIVE.value
        with self._engine.begin() as conn:
            result = conn.execute(
                _R.update().where(_R.c.id == request_id, active, same_end).values(**values)
            )
            return _load(conn, request_id) if result.rowcount == 1 else None

    def list_requests(
        self,
        *,
        requester: PersonKey | None = None,
        states: frozenset[RequestState] | None = None,
    ) -> list[ActivationRecord]:
        query = sa.select(_R).order_by(_R.c.created_at, _R.c.id)
        if requester is not None:
            query = query.where(_R.c.requester == str(requester))
        if states is not None:
            query = query.where(_R.c.state.in_([s.value for s in states]))
        with self._reader.begin() as conn:
            return [convert.to_record(row) for row in conn.execute(query).mappings()]

    def list_decisions(self, request_id: str) -> list[Decision]:
        """Every decision taken on a request, oldest first."""
        d = tables.decisions
        query = sa.select(d).where(d.c.request_id == request_id).order_by(d.c.id)
        with self._reader.begin() as conn:
            return [convert.to_decision(row) for row in conn.execute(query).mappings()]

    def _values(self, changes: dict[str, object], **forced: object) -> dict[str, object]:
        if {"id", "state"} & changes.keys():
            raise ValueError("id and state are not changed this way; use transition()")
        values = convert.request_values({**changes, **forced})
        values.setdefault("updated_at", self._clock.now())
        return values

    # -- user links ----------------------------------------------------------------

    def get_user_link(self, person: PersonKey) -> UserLink | None:
        u = tables.user_links
        with self._reader.begin() as conn:
            row = conn.execute(sa.select(u).where(u.c.person == str(person)))
            found = row.mappings().first()
        return convert.to_link(found) if found else None

    def save_user_link(self, link: UserLink) -> None:
        with self._engine.begin() as conn:
            upsert(conn, tables.user_links, convert.link_values(link), key=["person"])

    # -- audit (append-only: there is no update or delete) ---------------------------

    def append_audit(self, event: AuditEvent) -> None:
        with self._engine.begin() as conn:
            conn.execute(tables.audit.insert().values(**convert.audit_values(event)))

    def audit_events(
        self,
        *,
        since: datetime | None = None,
        person: PersonKey | None = None,
        involving: PersonKey | None = None,
    ) -> list[AuditEvent]:
        a = tables.audit
        query = sa.select(a).order_by(a.c.id)
        if since is not None:
            query = query.where(a.c.at >= since)
        if person is not None:  # what they did
            query = query.where(a.c.person == str(person))
        if involving is not None:  # what they did, and what was done about their access
            key = str(involving)
            query = query.where(sa.or_(a.c.person == key, a.c.subject == key))
        with self._reader.begin() as conn:
            return [convert.to_audit(row) for row in conn.execute(query).mappings()]


def _load(conn: Connection, request_id: str) -> ActivationRecord | None:
    row = conn.execute(sa.select(_R).where(_R.c.id == request_id)).mappings().first()
    return convert.to_record(row) if row else None


def _check_transition(expected: frozenset[RequestState], new: RequestState) -> None:
    # A disallowed move is a bug in the caller, not a lost race: fail loudly.
    bad = sorted(state.value for state in expected if new not in TRANSITIONS[state])
    if not expected or bad:
        raise ValueError(f"transition to {new.value} not allowed from {bad or 'nothing'}")
