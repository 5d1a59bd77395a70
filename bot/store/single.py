"""One `pimbot run` per SQLite file: SQLite is the single-instance default.

Two bots on one file would both sweep, both fire reminders and both deliver the outbox;
the claims that make several replicas safe rely on PostgreSQL. An exclusive `flock` on
`<database>.lock` says who runs: the kernel drops it when the holder exits, SIGKILL
included, so a crash never leaves a stale lock behind (unlike a pid file).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from bot.errors import ConfigError
from bot.store.engine import normalise_url


def lock_path(url: str) -> Path | None:
    """The lock file for a SQLite database file; None for PostgreSQL or in-memory."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).resolve().with_name(Path(parsed.database).name + ".lock")


@contextlib.contextmanager
def single_instance(url: str) -> Iterator[None]:
    """Hold the SQLite file's lock while the block runs; a ConfigError if another
    process holds it. Nothing to hold on PostgreSQL (replicas coordinate there)."""
    path = lock_path(url)
    if path is None:
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(_refusal(url, path)) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())  # who holds it, for the operator
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _refusal(url: str, path: Path) -> str:
    holder = path.read_text().strip() or "unknown"
    shown = sa.make_url(url).render_as_string(hide_password=True)
    return (
        f"another pimbot (pid {holder}) is already running on {shown}: SQLite serves one "
        "process. Stop it, or use PostgreSQL (PIM_DATABASE_URL=postgresql+psycopg://...) "
        "for several replicas"
    )
