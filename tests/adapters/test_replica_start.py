"""Replicas started at the same moment on an empty database all come up: the migrations,
the scheduler's job table included (v17), run under one lock."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import datetime

import pytest
import sqlalchemy as sa

from bot.store import SqlStore
from bot.store.engine import make_engine
from bot.store.migrations import LATEST, current_version
from bot.store.scheduler import ReminderScheduler
from tests.support.databases import postgres_url

REPLICAS = 6


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from postgres_url()


async def _come_up(store: SqlStore) -> None:
    """What `pimbot run` does with the database at start: migrate, start the scheduler."""
    scheduler = ReminderScheduler(store.engine)

    async def on_due(_moment: datetime | None) -> None: ...

    await scheduler.start(on_due)
    await scheduler.shutdown()


@pytest.mark.slow
def test_replicas_starting_together_on_an_empty_postgresql_all_come_up(pg_url: str) -> None:
    barrier = threading.Barrier(REPLICAS)
    errors: list[BaseException] = []
    engines = [make_engine(pg_url) for _ in range(REPLICAS)]

    def replica(index: int) -> None:
        barrier.wait()
        try:
            asyncio.run(_come_up(SqlStore(engines[index])))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=replica, args=(i,)) for i in range(REPLICAS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert current_version(engines[0]) == LATEST
        assert sa.inspect(engines[0]).has_table("apscheduler_jobs")
    finally:
        for engine in engines:
            engine.dispose()
