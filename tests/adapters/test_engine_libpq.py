"""`PIM_DATABASE_URL` stays a SQLAlchemy psycopg URL, and the libpq options in its query
string reach the server through bot/store/engine.py's engine: SQLAlchemy passes a URL's
query arguments to the DBAPI's connect(), and psycopg to libpq as connection parameters
(https://docs.sqlalchemy.org/en/20/core/engines.html#custom-dbapi-connect-arguments-on-connect-routines,
https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-PARAMKEYWORDS:
`options` is sent as command-line options at connection start, `application_name` is
shown in pg_stat_activity)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from bot.store import SqlStore
from bot.store.engine import make_engine, normalise_url
from tests.support.clock import FakeClock
from tests.support.databases import PG_ENV


@pytest.fixture
def schema() -> Iterator[tuple[str, str]]:
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"PostgreSQL: set {PG_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1/test)")
    name = f"pimbot_x_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(normalise_url(base))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    try:
        yield base, name
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


def test_options_and_application_name_in_the_url_reach_the_server(
    schema: tuple[str, str],
) -> None:
    base, name = schema
    app = f"pimbot-{uuid.uuid4().hex[:8]}"
    # As an operator writes it in the environment: `=` inside `options` percent-encoded.
    url = f"{base}?options=-csearch_path%3D{name}&application_name={app}"
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SHOW search_path")).scalar() == name
            seen = conn.execute(
                sa.text(
                    "SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()"
                )
            ).scalar()
            assert seen == app
    finally:
        engine.dispose()


def test_the_store_migrates_into_the_schema_the_url_names(schema: tuple[str, str]) -> None:
    """The store's own engine: its tables are made in that schema, not in `public`."""
    base, name = schema
    store = SqlStore.from_url(f"{base}?options=-csearch_path%3D{name}", clock=FakeClock())
    try:
        with store.engine.connect() as conn:
            tables = conn.execute(
                sa.text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
                {"s": name},
            ).scalars()
            assert {"requests", "schema_version", "slack_deliveries"} <= set(tables)
    finally:
        store.engine.dispose()
