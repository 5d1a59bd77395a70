"""Databases for tests: SQLite always, PostgreSQL too when PIM_TEST_DATABASE_URL is set
(each test in its own schema). The `database_url`, `engine` and `store` fixtures are in
tests/conftest.py."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from bot.store.engine import normalise_url

PG_ENV = "PIM_TEST_DATABASE_URL"


def postgres_url() -> Iterator[str]:
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"PostgreSQL: set {PG_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1/test)")
    schema = f"pimbot_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(normalise_url(base))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    # search_path makes the schema the default for every connection of the test's
    # engines, so the code under test needs no schema argument.
    url = normalise_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
