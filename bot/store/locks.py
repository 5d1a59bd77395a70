"""Who does the periodic work among replicas: a PostgreSQL session advisory lock per name.

The holder keeps one connection open with the lock taken on it; the others try each
round (`try_hold`) and get it once the holder's session ends. A SIGKILLed holder's
socket is closed by its kernel, PostgreSQL ends the session and frees its advisory locks
("held until explicitly released or the session ends",
https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS), so a
survivor takes over at its next try. A holder cut off by the network is noticed as fast
as TCP keepalives allow: set them in PIM_DATABASE_URL (`?keepalives_idle=10&...`,
libpq options are passed through).

SQLite serves one process (`bot.store.single`): that process always holds every lock.
"""

from __future__ import annotations

import logging
import zlib

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)


class AlwaysHeld:
    """The single process's lock: SQLite, or no database at all."""

    held = True

    def try_hold(self) -> bool:
        return True

    def release(self) -> None:
        return None


class AdvisoryLock:
    """`pg_try_advisory_lock` on a connection of its own, kept while held."""

    def __init__(self, engine: Engine, name: str) -> None:
        self._engine, self.name = engine, name
        # Stable across processes and versions (Python's hash() is salted per process).
        self._key = zlib.crc32(f"pimbot:{name}".encode())
        self._conn: Connection | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None

    def try_hold(self) -> bool:
        """True while this process holds the lock: checked on the holding connection (a
        lost one means lost), else tried anew. Never waits for the holder."""
        if self._conn is not None:
            try:
                self._conn.execute(sa.text("SELECT 1"))
                self._conn.commit()
                return True
            except sa.exc.DBAPIError:
                log.warning("lost the %r lock with its database connection", self.name)
                self._drop()
        return self._take()

    def _take(self) -> bool:
        conn = self._engine.connect()
        try:
            got = bool(conn.execute(sa.select(sa.func.pg_try_advisory_lock(self._key))).scalar())
            conn.commit()  # the lock is the session's: no transaction left open idle
        except BaseException:
            conn.invalidate()
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        log.info("this replica now holds the %r lock", self.name)
        self._conn = conn
        return True

    def release(self) -> None:
        self._drop()

    def _drop(self) -> None:
        """Close the holding connection for good (not back to the pool, where the session
        and its lock would live on): PostgreSQL frees the lock with the session."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.invalidate()
            conn.close()


def process_locks(
    engine: Engine | None, names: tuple[str, ...]
) -> dict[str, AdvisoryLock | AlwaysHeld]:
    """One lock per name: advisory on PostgreSQL, always held otherwise."""
    if engine is None or engine.dialect.name != "postgresql":
        return {name: AlwaysHeld() for name in names}
    return {name: AdvisoryLock(engine, name) for name in names}
