"""Engine construction: SQLite tuned for several processes and threads, or PostgreSQL."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import QueuePool

BUSY_TIMEOUT_MS = 10_000
_READ_ONLY = "pimbot_read_only"
# The transaction `together` holds for the code running in this context (an asyncio task
# has its own context: another task never sees it).
_SHARED: ContextVar[Connection | None] = ContextVar("pimbot_shared_transaction", default=None)


def normalise_url(url: str | URL) -> URL:
    """`postgres://` and bare `postgresql://` mean psycopg 3, the driver we ship."""
    parsed = sa.make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine that is safe to share between threads and asyncio tasks."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True, **kwargs)
    if parsed.database in (None, "", ":memory:"):
        # An in-memory database lives and dies with one connection: a pool of exactly
        # one hands it to one thread at a time (StaticPool would share it unguarded).
        kwargs = {"poolclass": QueuePool, "pool_size": 1, "max_overflow": 0, **kwargs}
    engine = sa.create_engine(
        parsed,
        # The pool hands connections to many threads; each is used by one at a time.
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        **kwargs,
    )
    _tune_sqlite(engine)
    return engine


def read_only(engine: Engine) -> Engine:
    """The same engine and pool, for transactions that only read (see `_on_begin`)."""
    return engine.execution_options(**{_READ_ONLY: True})


@contextmanager
def together(engine: Engine) -> Iterator[None]:
    """The writes made inside through `writing(engine)` share one transaction: all kept,
    or none. Synchronous code only: a task awaiting inside would leave the write lock
    held while others on its loop ask for it (SQLite: the loop would wait on itself)."""
    if _shared(engine) is not None:
        yield  # already inside one: its transaction holds these writes too
        return
    with engine.begin() as conn:
        token = _SHARED.set(conn)
        try:
            yield
        finally:
            _SHARED.reset(token)


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction on `engine`: the one `together` holds here, else its own."""
    shared = _shared(engine)
    if shared is not None:
        yield shared
        return
    with engine.begin() as conn:
        yield conn


def _shared(engine: Engine) -> Connection | None:
    shared = _SHARED.get()
    return shared if shared is not None and shared.engine is engine else None


def _tune_sqlite(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin: the
        # module would otherwise run DDL outside any transaction (migrations must not).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _enable_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # Writers: IMMEDIATE takes the write lock up front (waiting up to busy_timeout).
        # A deferred transaction that reads and then writes can fail at once with
        # SQLITE_BUSY when another process wrote in between; this cannot. Readers stay
        # deferred: under WAL they read a snapshot and never wait for the writer.
        reading = conn.get_execution_options().get(_READ_ONLY, False)
        # Straight to the driver: with isolation_level None the sqlite3 module opens no
        # transaction itself and an explicit BEGIN starts one
        # (https://docs.python.org/3/library/sqlite3.html#sqlite3-controlling-transactions);
        # SQLAlchemy's own commit/rollback end it. Not `exec_driver_sql`: its execution
        # machinery cost as much as the statement the transaction is for (issue 17).
        conn.connection.driver_connection.execute(  # type: ignore[union-attr]
            "BEGIN" if reading else "BEGIN IMMEDIATE"
        )


def _enable_wal(cursor: Any) -> None:
    """WAL: readers never block the writer, so two processes can share the file.

    The mode is stored in the file, so only the first connection switches it; the
    switch needs an exclusive lock and SQLite answers "locked" at once instead of
    waiting for busy_timeout when others are connecting too: retry until it is set.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            mode = str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower()
            if mode not in ("wal", "memory"):
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
