"""The intake (bot/service/intake.py) on the SQL store: acked work kept under its
replica's lease, renewed while that replica lives, replayed once by one survivor after
it lapsed, dropped once done. SQLite here; the PostgreSQL race is the replica test's
(tests/e2e/test_replicas_process.py)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.service.intake import Acked, Intake
from bot.store import SqlStore
from bot.store.intake import SqlIntake
from tests.support.clock import FakeClock

LEASE = timedelta(seconds=30)
COMMAND = {"user_id": "U_ALINE", "text": "activate user-admin 1h fix a user"}


class Replays:
    def __init__(self) -> None:
        self.seen: list[Acked] = []

    async def __call__(self, item: Acked) -> None:
        self.seen.append(item)


def _replicas(count: int) -> tuple[FakeClock, SqlStore, list[Intake]]:
    clock = FakeClock()
    store = SqlStore.from_url("sqlite://", clock=clock)
    intakes = [
        Intake(SqlIntake(store.engine), clock, f"host:{n}:x", lease=LEASE, scan_every=1)
        for n in range(count)
    ]
    return clock, store, intakes


async def _round(intake: Intake, replay: Replays) -> list[str]:
    taken = await intake.round(replay)
    await intake.settled()
    return taken


async def test_work_kept_by_a_live_replica_is_left_to_it() -> None:
    clock, _, (mine, other) = _replicas(2)
    replays = Replays()
    kept = mine.keep("slash_command", COMMAND)
    assert kept is not None

    for _ in range(3):  # each round renews: its lease never lapses while it lives
        clock.advance(LEASE / 2)
        await _round(mine, replays)
        assert await _round(other, replays) == []
    mine.done(kept)
    clock.advance(LEASE * 2)
    assert await _round(other, replays) == [] and replays.seen == []


async def test_work_of_a_dead_replica_is_replayed_once_by_one_survivor_then_dropped() -> None:
    clock, _, (dead, first, second) = _replicas(3)
    replays = Replays()
    kept = dead.keep("slash_command", COMMAND)

    clock.advance(LEASE / 2)
    assert await _round(first, replays) == []  # not lapsed yet
    clock.advance(LEASE)
    taken = await asyncio.gather(_round(first, replays), _round(second, replays))

    assert sorted(taken, key=len) == [[], [kept]]
    (item,) = replays.seen
    assert (item.id, item.kind, item.payload) == (kept, "slash_command", COMMAND)
    clock.advance(LEASE * 2)  # dropped after its replay: nothing left to take again
    assert await _round(first, replays) == [] and await _round(second, replays) == []
    assert len(replays.seen) == 1


async def test_a_failing_replay_is_not_replayed_again() -> None:
    clock, _, (dead, survivor) = _replicas(2)
    calls = 0

    async def failing(item: Acked) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("Slack away")

    dead.keep("slash_command", COMMAND)
    clock.advance(LEASE * 2)
    await survivor.round(failing)
    await survivor.settled()
    clock.advance(LEASE * 2)
    await survivor.round(failing)
    await survivor.settled()
    assert calls == 1


async def test_work_too_old_to_answer_is_dropped_unreplayed() -> None:
    """A response_url lasts 30 minutes: a row found later (every replica was down) is
    dropped, not run for a user who no longer waits for its answer."""
    clock, _, (dead, survivor) = _replicas(2)
    replays = Replays()
    dead.keep("slash_command", COMMAND)
    clock.advance(timedelta(minutes=40))

    assert len(await _round(survivor, replays)) == 1
    assert replays.seen == []
    clock.advance(LEASE * 2)
    assert await _round(survivor, replays) == []


def test_a_keep_the_database_refuses_costs_only_the_takeover(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock, store, (intake,) = _replicas(1)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE intake")

    assert intake.keep("slash_command", COMMAND) is None
    intake.done(None)  # nothing to drop: no error either
    assert "not kept" in caplog.text
    assert "user-admin" not in caplog.text  # what was typed is never logged
