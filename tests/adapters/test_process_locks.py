"""The periodic work's locks (bot/store/locks.py): one replica holds each on PostgreSQL,
a survivor takes over once the holder is SIGKILLed; SQLite's single process holds all."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy.engine import Engine

from bot.service.sweep import Sweeper
from bot.store.engine import make_engine
from bot.store.locks import AdvisoryLock, process_locks
from tests.support.databases import postgres_url
from tests.support.settings import ROOT

HOLDER = """
import sys, time
from bot.store.engine import make_engine
from bot.store.locks import AdvisoryLock
lock = AdvisoryLock(make_engine(sys.argv[1]), "sweep")
print("held" if lock.try_hold() else "refused", flush=True)
time.sleep(600)
"""


@pytest.fixture
def pg_engines() -> Iterator[tuple[str, list[Engine]]]:
    for url in postgres_url():
        engines = [make_engine(url) for _ in range(2)]
        yield url, engines
        for engine in engines:
            engine.dispose()


def test_sqlite_s_single_process_holds_every_lock(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'pimbot.db'}")
    locks = process_locks(engine, ("sweep", "scheduler"))
    assert all(lock.try_hold() and lock.held for lock in locks.values())
    engine.dispose()


@pytest.mark.slow
def test_one_replica_holds_a_lock_until_it_releases_it(
    pg_engines: tuple[str, list[Engine]],
) -> None:
    _url, (one, two) = pg_engines
    first, second = AdvisoryLock(one, "sweep"), AdvisoryLock(two, "sweep")
    other = AdvisoryLock(two, "scheduler")
    assert first.try_hold() and first.held
    assert not second.try_hold() and not second.held
    assert first.try_hold()  # asked again, still the holder
    assert other.try_hold()  # another name is another lock
    first.release()
    assert not first.held
    assert second.try_hold()
    assert not first.try_hold()


@pytest.mark.slow
def test_a_survivor_takes_over_once_the_holder_is_killed_with_sigkill(
    pg_engines: tuple[str, list[Engine]],
) -> None:
    url, (engine, _) = pg_engines
    holder = subprocess.Popen(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", HOLDER, url],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        survivor = AdvisoryLock(engine, "sweep")
        assert not survivor.try_hold()
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        # The kernel closes the dead process's socket; PostgreSQL ends its session and
        # frees its locks. Well within a sweep round (30 s), let alone 60 s.
        deadline = time.monotonic() + 30
        while not survivor.try_hold():
            assert time.monotonic() < deadline, "the lock was not freed after SIGKILL"
            time.sleep(0.1)
        survivor.release()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


class _Rounds:
    """Stands in for the reminders and approvals a sweep round runs; counts rounds."""

    def __init__(self) -> None:
        self.count = 0

    async def run_due(self) -> int:
        self.count += 1
        return 0

    async def expire_due(self) -> int:
        return 0

    async def withdraw_orphaned_extensions(self) -> int:
        return 0

    async def reconcile(self) -> int:
        return 0


@pytest.mark.slow
async def test_the_sweep_runs_only_on_the_replica_holding_its_lock(
    pg_engines: tuple[str, list[Engine]],
) -> None:
    _url, (mine, theirs) = pg_engines
    other_replica = AdvisoryLock(theirs, "sweep")
    assert other_replica.try_hold()
    rounds = _Rounds()
    sweeper = Sweeper(cast(Any, rounds), cast(Any, rounds), lock=AdvisoryLock(mine, "sweep"))
    task = asyncio.create_task(sweeper.run_forever(0.01))
    try:
        await asyncio.sleep(0.3)
        assert rounds.count == 0  # another replica sweeps
        other_replica.release()  # it stopped: this one takes over at its next round
        deadline = asyncio.get_running_loop().time() + 10
        while rounds.count == 0:
            assert asyncio.get_running_loop().time() < deadline, "never took over"
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
