"""ReminderScheduler over a real job store (SQLite; PostgreSQL when configured)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.people import slack
from bot.domain.reminders import reminder_plan
from bot.store import SqlStore
from bot.store import scheduler as scheduler_module
from bot.store.scheduler import ReminderScheduler
from tests.support.records import activation_record


class Recorder:
    """An on_due callback that remembers what it was called with."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.at: list[datetime] = []

    async def __call__(self, reminder_id: str) -> None:
        self.calls.append(reminder_id)
        self.at.append(datetime.now(UTC))


def soon(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


async def eventually(check: Callable[[], bool], within: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@pytest.fixture
def name() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def running(
    database_url: str, name: str
) -> AsyncIterator[tuple[ReminderScheduler, Recorder]]:
    recorder = Recorder()
    sched = ReminderScheduler(database_url, name=name)
    await sched.start(recorder)
    yield sched, recorder
    await sched.shutdown()


async def test_fires_a_reminder_at_its_time(running: tuple[ReminderScheduler, Recorder]) -> None:
    sched, recorder = running
    sched.schedule("r1:ended", soon(0.3))
    assert recorder.calls == []
    assert set(sched.scheduled()) == {"r1:ended"}
    await eventually(lambda: recorder.calls == ["r1:ended"])
    assert sched.scheduled() == {}


async def test_a_moment_in_the_past_fires_at_once(
    running: tuple[ReminderScheduler, Recorder],
) -> None:
    sched, recorder = running
    sched.schedule("r1:ended", soon(-60))
    await eventually(lambda: recorder.calls == ["r1:ended"], within=1.0)


@pytest.mark.slow
async def test_rescheduling_an_id_replaces_its_job(
    running: tuple[ReminderScheduler, Recorder],
) -> None:
    sched, recorder = running
    sched.schedule("r1:lead:900", soon(0.2))
    later = soon(0.4)
    sched.schedule("r1:lead:900", later)
    [(reminder_id, when)] = sched.scheduled().items()
    # The job table keeps a float timestamp: equal to the microsecond, give or take one.
    assert reminder_id == "r1:lead:900" and abs(when - later) < timedelta(milliseconds=1)
    await eventually(lambda: recorder.calls != [])
    await eventually(lambda: sched.scheduled() == {})  # no trigger left to fire again

    assert recorder.calls == ["r1:lead:900"]
    assert recorder.at[0] >= later - timedelta(milliseconds=1)  # at the new time, not the old


async def test_a_cancelled_reminder_never_fires(
    running: tuple[ReminderScheduler, Recorder],
) -> None:
    sched, recorder = running
    sched.schedule("r1:lead:900", soon(0.2))
    sched.cancel("r1:lead:900")
    sched.cancel("never-scheduled")
    # Positive signal: a reminder due after the cancelled one's moment fires; the
    # scheduler has been past that moment, so the cancelled one would have fired first.
    sched.schedule("r2:ended", soon(0.3))
    await eventually(lambda: recorder.calls != [])

    assert recorder.calls == ["r2:ended"]
    assert sched.scheduled() == {}


async def test_refuses_a_naive_time(running: tuple[ReminderScheduler, Recorder]) -> None:
    sched, _ = running
    with pytest.raises(ValueError, match="naive"):
        sched.schedule("r1:ended", datetime(2026, 11, 29, 9, 0))  # noqa: DTZ001


@pytest.mark.slow
async def test_a_job_scheduled_before_a_restart_fires_after_it(
    database_url: str, name: str
) -> None:
    before, after = Recorder(), Recorder()
    first = ReminderScheduler(database_url, name=name)
    await first.start(before)
    first.schedule("r1:lead:900", soon(0.5))
    await first.shutdown()

    second = ReminderScheduler(database_url, name=name)
    await second.start(after)
    try:
        assert set(second.scheduled()) == {"r1:lead:900"}
        await eventually(lambda: after.calls == ["r1:lead:900"])
        await eventually(lambda: second.scheduled() == {})  # no trigger left
    finally:
        await second.shutdown()  # lets a reminder being sent finish
    assert before.calls == []
    assert after.calls == ["r1:lead:900"]


async def test_a_job_due_while_down_runs_once_on_start(database_url: str, name: str) -> None:
    first = ReminderScheduler(database_url, name=name)
    await first.start(Recorder())
    first.schedule("r1:ended", soon(0.1))
    await first.shutdown()
    await asyncio.sleep(0.3)  # the moment passes while no scheduler runs

    recorder = Recorder()
    second = ReminderScheduler(database_url, name=name)
    await second.start(recorder)
    try:
        await eventually(lambda: recorder.calls != [], within=1.0)
        await eventually(lambda: second.scheduled() == {})  # no trigger left
    finally:
        await second.shutdown()  # lets a reminder being sent finish
    assert recorder.calls == ["r1:ended"]


async def test_two_processes_sharing_the_jobs_send_a_reminder_once(
    database_url: str, name: str
) -> None:
    store = SqlStore.from_url(database_url)
    now = datetime.now(UTC)
    store.add_request(
        activation_record(
            id="r1", requester=slack("U1"), duration=timedelta(hours=1), created_at=now, start=None
        ).with_changes(updated_at=now, end=None)
    )
    [ended] = reminder_plan(now, [], now, request_id="r1")
    store.save_reminders([ended])
    sent: list[str] = []

    async def send_once(reminder_id: str) -> None:
        if store.claim_reminder(reminder_id, datetime.now(UTC)):
            sent.append(reminder_id)

    setup = ReminderScheduler(database_url, name=name)
    await setup.start(send_once)
    setup.schedule(ended.id, soon(0.1))
    await setup.shutdown()
    await asyncio.sleep(0.2)
    # Two processes start on the same database: both may see the due job. (In one test
    # process they share the callback registry; real processes each have their own.)
    processes = [ReminderScheduler(database_url, name=name) for _ in range(2)]
    for process in processes:
        await process.start(send_once)
    try:
        await eventually(lambda: sent != [], within=1.0)
        # Positive signal: the shared job table is empty, so every process that took the
        # job has submitted it (each takes and submits in one turn of the loop); shutdown
        # then waits for those runs to finish.
        await eventually(lambda: all(p.scheduled() == {} for p in processes))
    finally:
        for process in processes:
            await process.shutdown()
        store.close()
    assert sent == ["r1:ended"]


async def test_shutdown_lets_a_reminder_being_sent_finish(database_url: str, name: str) -> None:
    started: list[str] = []
    finished: list[str] = []

    async def slow_send(reminder_id: str) -> None:
        started.append(reminder_id)
        await asyncio.sleep(0.3)
        finished.append(reminder_id)

    sched = ReminderScheduler(database_url, name=name)
    await sched.start(slow_send)
    sched.schedule("r1:ended", soon(-1))
    await eventually(lambda: started != [])  # the job is running now
    assert finished == []
    await sched.shutdown()
    assert finished == ["r1:ended"]


async def test_resume_reschedules_unsent_reminders_from_the_store(
    running: tuple[ReminderScheduler, Recorder],
) -> None:
    sched, recorder = running
    now = datetime.now(UTC)
    plan = reminder_plan(
        now + timedelta(seconds=0.3), [timedelta(seconds=0.2)], now, request_id="r1"
    )
    sent = replace(plan[0], sent_at=now)
    sched.resume([sent, plan[1]], now)
    assert set(sched.scheduled()) == {"r1:ended"}
    await eventually(lambda: recorder.calls == ["r1:ended"])


async def test_a_job_whose_scheduler_is_gone_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.store.scheduler"):
        await scheduler_module.fire("nobody", "r1:ended")
    assert "r1:ended" in caplog.text


async def test_sharing_the_store_engine_leaves_it_usable_after_shutdown(name: str) -> None:
    store = SqlStore.from_url("sqlite://")  # in memory: dies if its connection is closed
    recorder = Recorder()
    sched = ReminderScheduler(store.engine, name=name)
    await sched.start(recorder)
    sched.schedule("r1:ended", soon(0.1))
    await eventually(lambda: recorder.calls == ["r1:ended"])
    await sched.shutdown()
    assert store.list_reminders() == []  # the schema is still there


@pytest.mark.slow
async def test_due_jobs_run_only_where_the_scheduler_lock_is_held(
    database_url: str, name: str
) -> None:
    """Replicas share the job table: a follower (paused) stores jobs and runs none; the
    holder of the scheduler lock runs them once it looks again (`lead(True)`). (Jobs name
    their scheduler, "pimbot" in every replica; here both live in one process under two
    names, so whose callback ran does not tell which scheduler ran it: what ran does.)"""
    calls = Recorder()
    follower = ReminderScheduler(database_url, name=name)
    leader = ReminderScheduler(database_url, name=f"{name}-leader")
    await follower.start(calls, paused=True)
    await leader.start(Recorder())
    try:
        leader.lead(False)  # lost the lock: no scheduler runs jobs now
        follower.schedule("r1:ended", soon(-1))
        await asyncio.sleep(0.3)
        assert calls.calls == []
        leader.lead(True)  # the lock's round: the holder reads the table again
        await eventually(lambda: calls.calls == ["r1:ended"])
        assert follower.scheduled() == {}
    finally:
        await follower.shutdown()
        await leader.shutdown()
