"""SqlStore: the `bot.service.ports.Store` over SQLAlchemy Core, one transaction per call."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine

from bot.clock import Clock, SystemClock
from bot.domain.audit import AuditEvent, AuditKind
from bot.domain.people import PersonKey
from bot.domain.requests import TRANSITIONS, ActivationRecord, RequestState
from bot.errors import DuplicateRequest
from bot.service.outbox import Letter
from bot.service.ports import UserLink
from bot.store import convert, migrations, tables
from bot.store.approvals import ApprovalMethods
from bot.store.break_glass import BreakGlassMethods
from bot.store.convert import Decision
from bot.store.engine import make_engine, read_only, together, writing
from bot.store.migrations import OPEN_TARGET_INDEX
from bot.store.outbox import insert_letters
from bot.store.pings import PingMethods
from bot.store.reminders import ReminderMethods
from bot.store.upsert import upsert

DEFAULT_URL = "sqlite:///pimbot.db"
_DECISION_FIELDS = frozenset({"decided_by", "decided_at"})
_R = tables.requests
# Rows per `IN (…)` list: SQLite allows 32,766 bound parameters per statement (999 before
# 3.32, https://www.sqlite.org/limits.html#max_variable_number); stay well below both.
_IN_CHUNK = 500
_ENDINGS = (AuditKind.DEACTIVATED.value, AuditKind.ENDED.value)

# The statements run on every activation, built once: values travel as parameters of the
# execution, so SQLAlchemy neither rebuilds nor re-keys them for its compiled cache, and
# an INSERT's VALUES / an UPDATE's SET come from the parameters' keys
# (https://docs.sqlalchemy.org/en/20/tutorial/data_update.html#the-update-sql-expression-construct,
# "per-execution time formatting of the VALUES and/or SET clauses"). Bound names that are
# not columns start with "_" (a column's name is reserved for its own value).
_INSERT_REQUEST = _R.insert()
_LOAD = sa.select(_R).where(_R.c.id == sa.bindparam("_id"))
_LOAD_MANY = sa.select(_R).where(_R.c.id.in_(sa.bindparam("_ids", expanding=True)))
# UPDATE … RETURNING the row: the record as written, without a SELECT after it (SQLite
# has RETURNING since 3.35, https://www.sqlite.org/lang_returning.html; migrations
# already need 3.35 to drop columns).
_TRANSITION = (
    _R.update()
    .where(
        _R.c.id == sa.bindparam("_id"), _R.c.state.in_(sa.bindparam("_expected", expanding=True))
    )
    .returning(*_R.c)
)
_UPDATE_REQUEST = _R.update().where(_R.c.id == sa.bindparam("_id")).returning(*_R.c)
_LINK = sa.select(tables.user_links).where(tables.user_links.c.person == sa.bindparam("_person"))
_INSERT_AUDIT = tables.audit.insert()


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

    def together(self) -> AbstractContextManager[None]:
        """The writes made inside (`add_request`, `transition`, `append_audit`,
        `save_reminders`, the readiness started) share one transaction: all kept, or none.
        Synchronous code only (bot/store/engine.py)."""
        return together(self._engine)

    # -- requests ---------------------------------------------------------------

    def add_request(self, record: ActivationRecord) -> None:
        try:
            with writing(self._engine) as conn:
                conn.execute(_INSERT_REQUEST, convert.record_values(record))
        except sa.exc.IntegrityError as exc:
            if _open_target_taken(exc):  # another replica stored one first (v19)
                raise DuplicateRequest(
                    f"You already have a request for {record.role_name} being handled."
                ) from None
            raise

    def get_request(self, request_id: str) -> ActivationRecord | None:
        with self._reader.begin() as conn:
            return _load(conn, request_id)

    def get_requests(self, request_ids: list[str]) -> list[ActivationRecord]:
        """Those of these requests the store holds, in one query, in no set order."""
        if not request_ids:
            return []
        with self._reader.begin() as conn:
            rows = conn.execute(_LOAD_MANY, {"_ids": request_ids}).mappings()
            return [convert.to_record(row) for row in rows]

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
        expected_states = [s.value for s in expected]
        with writing(self._engine) as conn:
            row = (
                conn.execute(
                    _TRANSITION, {**values, "_id": request_id, "_expected": expected_states}
                )
                .mappings()
                .first()
            )
            if row is None:
                return None  # another writer won, or no such request
            record = convert.to_record(row)
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
            row = conn.execute(_UPDATE_REQUEST, {**values, "_id": request_id}).mappings().first()
            if row is None:
                raise KeyError(f"no request {request_id!r}")
            return convert.to_record(row)

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

    def ended_since(self, since: datetime) -> list[ActivationRecord]:
        """Requests now ended whose end (a DEACTIVATED or ENDED audit line) is at or after
        `since`: one statement, the audit trail's recent rows joined to their requests."""
        a = tables.audit
        ended = sa.select(a.c.request_id).where(a.c.at >= since, a.c.kind.in_(_ENDINGS))
        query = (
            sa.select(_R)
            .where(_R.c.state == RequestState.ENDED.value, _R.c.id.in_(ended.scalar_subquery()))
            .order_by(_R.c.created_at, _R.c.id)
        )
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
        with self._reader.begin() as conn:
            found = conn.execute(_LINK, {"_person": str(person)}).mappings().first()
        return convert.to_link(found) if found else None

    def user_links(self, people: Collection[PersonKey]) -> dict[PersonKey, UserLink]:
        """The links of several people at once (the board's names): one read per
        _IN_CHUNK people, not one per person."""
        u, wanted = tables.user_links, sorted({str(p) for p in people})
        found: dict[PersonKey, UserLink] = {}
        with self._reader.begin() as conn:
            for i in range(0, len(wanted), _IN_CHUNK):
                query = sa.select(u).where(u.c.person.in_(wanted[i : i + _IN_CHUNK]))
                for row in conn.execute(query).mappings():
                    link = convert.to_link(row)
                    found[link.person] = link
        return found

    def save_user_link(self, link: UserLink) -> None:
        with self._engine.begin() as conn:
            upsert(conn, tables.user_links, convert.link_values(link), key=["person"])

    # -- audit (append-only: there is no update or delete) ---------------------------

    def append_audit(self, event: AuditEvent, lines: Sequence[Letter] = ()) -> None:
        """The row, and the `lines` that copy it to the chat queued in the outbox, in one
        transaction: a crash between them can neither keep the row without its line nor
        send a line for a row that was never kept."""
        with writing(self._engine) as conn:
            conn.execute(_INSERT_AUDIT, convert.audit_values(event))
            # Queued at the event's moment: the services' clock, which the courier reads.
            insert_letters(conn, lines, event.at)

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
    row = conn.execute(_LOAD, {"_id": request_id}).mappings().first()
    return convert.to_record(row) if row else None


def _check_transition(expected: frozenset[RequestState], new: RequestState) -> None:
    # A disallowed move is a bug in the caller, not a lost race: fail loudly.
    bad = sorted(state.value for state in expected if new not in TRANSITIONS[state])
    if not expected or bad:
        raise ValueError(f"transition to {new.value} not allowed from {bad or 'nothing'}")


def _open_target_taken(exc: sa.exc.IntegrityError) -> bool:
    """The one-open-request index refused the row: PostgreSQL names the index, SQLite the
    columns (`UNIQUE constraint failed: requests.requester, ...`)."""
    text = str(exc.orig)
    return OPEN_TARGET_INDEX in text or "requests.requester" in text
