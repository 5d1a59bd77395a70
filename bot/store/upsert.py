"""INSERT … ON CONFLICT DO UPDATE for the two dialects we support."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

# Given the `excluded` pseudo-table (the refused row), the columns to SET.
OnConflict = Callable[[Any], Mapping[str, Any]]


def upsert(
    conn: Connection,
    table: sa.Table,
    values: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    *,
    key: list[str],
    on_conflict: OnConflict | None = None,
) -> None:
    """Insert `values` (one row, or several with the same columns), or update the row
    with the same `key` (by default: overwrite every other column). Atomic on both
    dialects, where select-then-insert would race under PostgreSQL's READ COMMITTED."""
    rows = [values] if isinstance(values, Mapping) else list(values)
    if not rows:
        return
    columns = tuple(rows[0])
    stmt = _statement(conn.dialect.name, table, columns, tuple(key), on_conflict)
    # The VALUES come from the parameters' keys, so one built statement serves every call
    # (https://docs.sqlalchemy.org/en/20/tutorial/data_insert.html, "executemany" style).
    conn.execute(stmt, rows[0] if len(rows) == 1 else rows)


@functools.lru_cache(maxsize=64)
def _statement(
    dialect: str,
    table: sa.Table,
    columns: tuple[str, ...],
    key: tuple[str, ...],
    on_conflict: OnConflict | None,
) -> Any:
    """Built once per table, columns, key and conflict rule (module-level rules only)."""
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(table)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table)
    else:
        raise NotImplementedError(f"upsert on {dialect}: use SQLite or PostgreSQL")
    if on_conflict is None:
        updates = {name: stmt.excluded[name] for name in columns if name not in key}
    else:
        updates = dict(on_conflict(stmt.excluded))
    return stmt.on_conflict_do_update(index_elements=list(key), set_=updates)
