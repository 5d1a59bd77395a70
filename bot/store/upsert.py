"""INSERT … ON CONFLICT DO UPDATE for the two dialects we support."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

# Given the `excluded` pseudo-table (the refused row), the columns to SET.
OnConflict = Callable[[Any], Mapping[str, Any]]


def upsert(
    conn: Connection,
    table: sa.Table,
    values: Mapping[str, Any],
    *,
    key: list[str],
    on_conflict: OnConflict | None = None,
) -> None:
    """Insert `values`, or update the row with the same `key` (by default: overwrite
    every other column). Atomic on both dialects, where select-then-insert would race
    under PostgreSQL's READ COMMITTED."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(table).values(**values)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).values(**values)
    else:
        raise NotImplementedError(f"upsert on {dialect}: use SQLite or PostgreSQL")
    if on_conflict is None:
        updates = {name: stmt.excluded[name] for name in values if name not in key}
    else:
        updates = dict(on_conflict(stmt.excluded))
    conn.execute(stmt.on_conflict_do_update(index_elements=key, set_=updates))
