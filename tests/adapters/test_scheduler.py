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
    """An on_due callback that remembers the moments it was woken for, and when."""

    def __init__(self) -> None:
        self.calls: list[datetime | None] = []
        self.at: list[datetime] = []

    async def __call__(self, moment: datetime | None) -> None:
        self.calls.append(moment)
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


async def test_wakes_at_its_moment(running: tuple[ReminderScheduler, Recorder]) -> None:
    sched, recorder = running
    when = soon(0.3)
    sched.schedule(when)
    assert recorder.calls == []
    assert sched.scheduled() == {when}
    await eventually(lambda: recorder.calls == [when])
    assert recorder.at[0] >= when - timedelta(milliseconds=1)  # float timestamps in the table
    assert sched.scheduled() == set()


async def test_a_moment_in_the_past_fires_at_once(
    running: tuple[ReminderScheduler, Recorder],
) -> None:
    sched, recorder = running
    when = soon(-60)
    sched.schedule(when)
    await eventually(lambda: recorder.calls == [when], within=1.0)


@pytest.mark.slow
async def test_many_reminders_at_one_moment_are_one_wake(
    running: tuple[ReminderScheduler, Recorder],
) -> None:
    """Scheduled again at a moment it holds (another reminder due then, a restart's
    resume), the one job is replaced: one wake, not one per reminder."""
    sched, recorder = running
    when = soon(0.3)
    for _ in range(3):
        sched.schedule(when)
    assert sched.scheduled() == {when}
    await eventually(lambda: recorder.calls != [])
    await eventually(lambda: sched.scheduled() == set())  # no job left to fire again

    assert recorder.calls == [when]


async def test_moments_wake_in_order_each_once(
    running: tuple[ReminderScheduler, Recorder],
) -> None:
    sched, recorder = running
    first, second = soon(0.2), soon(0.4)
    sched.schedule(second)
    sched.schedule(first)
    await eventually(lambda: len(recorder.calls) == 2)
    await eventually(lambda: sched.scheduled() == set())

    assert recorder.calls == [first, second]


async def test_refuses_a_naive_time(running: tuple[ReminderScheduler, Recorder]) -> None:
    sched, _ = running
    with pytest.raises(ValueError, match="naive"):
        sched.schedule(datetime(2026, 11, 29, 9, 0))  # noqa: DTZ001


@pytest.mark.slow
async def test_a_job_scheduled_before_a_restart_fires_after_it(
    database_url: str, name: str
) -> None:
    before, after = Recorder(), Recorder()
    when = soon(0.5)
    first = ReminderScheduler(database_url, name=name)
    await first.start(before)
    first.schedule(when)
    await first.shutdown()

    second = ReminderScheduler(database_url, name=name)
    await second.start(after)
    try:
        assert second.scheduled() == {when}
        await eventually(lambda: after.calls == [when])
        await eventually(lambda: second.scheduled() == set())  # no job left
    finally:
        await second.shutdown()  # lets a reminder being sent finish
    assert before.calls == []
    assert after.calls == [when]


async def test_a_job_due_while_down_runs_once_on_start(database_url: str, name: str) -> None:
    when = soon(0.1)
    first = ReminderScheduler(database_url, name=name)
    await first.start(Recorder())
    first.schedule(when)
    await first.shutdown()
    await asyncio.sleep(0.3)  # the moment passes while no scheduler runs

    recorder = Recorder()
    second = ReminderScheduler(database_url, name=name)
    await second.start(recorder)
    try:
        await eventually(lambda: recorder.calls != [], within=1.0)
        await eventually(lambda: second.scheduled() == set())  # no job left
    finally:
        await second.shutdown()  # lets a reminder being sent finish
    assert recorder.calls == [when]


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

    async def send_once(moment: datetime | None) -> None:
        claimed = store.claim_due_reminders(datetime.now(UTC), 10)
        sent.extend(r.id for r in claimed)

    setup = ReminderScheduler(database_url, name=name)
    await setup.start(send_once)
    setup.schedule(soon(0.1))
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
        await eventually(lambda: all(p.scheduled() == set() for p in processes))
    finally:
        for process in processes:
            await process.shutdown()
        store.close()
    assert sent == ["r1:ended"]


async def test_shutdown_lets_a_reminder_being_sent_finish(database_url: str, name: str) -> None:
    async def slow_send(moment: datetime | None) -> None:
        started.append(moment)
        await asyncio.sleep(0.3)
        finished.append(moment)

    started: list[datetime | None] = []
    finished: list[datetime | None] = []
    when = soon(-1)
    sched = ReminderScheduler(database_url, name=name)
    await sched.start(slow_send)
    sched.schedule(when)
    await eventually(lambda: started != [])  # the job is running now
    assert finished == []
    await sched.shutdown()
    assert finished == [when]


async def test_resume_reschedules_unsent_reminders_from_the_store(
    running: tuple[ReminderScheduler, Recorder],
) -> None:
    """Unsent reminders' moments, each once (two activations ending together share their
    ended reminder's); a sent one's moment is not woken for."""
    sched, recorder = running
    now = datetime.now(UTC)
    end = now + timedelta(seconds=0.3)
    plan = reminder_plan(end, [timedelta(seconds=0.2)], now, request_id="r1")
    other = reminder_plan(end, [], now, request_id="r2")
    sent = replace(plan[0], sent_at=now)
    sched.resume([sent, plan[1], *other], now)
    assert sched.scheduled() == {end}
    await eventually(lambda: recorder.calls == [end])


async def test_a_job_of_the_per_reminder_scheme_still_wakes_the_service(
    running: tuple[ReminderScheduler, Recorder],
) -> None:
    """A job table written before wakes were by moment holds `fire` jobs by reminder id:
    each still runs, as a wake for whatever is due (the store says what)."""
    sched, recorder = running
    sched._scheduler.add_job(
        scheduler_module.fire,
        trigger="date",
        run_date=soon(0.1),
        args=[sched.name, "r1:ended"],
        id="reminder:r1:ended",
    )
    await eventually(lambda: recorder.calls == [None])


async def test_a_job_whose_scheduler_is_gone_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.store.scheduler"):
        await scheduler_module.wake("nobody", "2026-11-29T09:00:00+00:00")
    assert "'nobody'" in caplog.text and "2026-11-29 09:00:00+00:00" in caplog.text


async def test_sharing_the_store_engine_leaves_it_usable_after_shutdown(name: str) -> None:
    store = SqlStore.from_url("sqlite://")  # in memory: dies if its connection is closed
    recorder = Recorder()
    when = soon(0.1)
    sched = ReminderScheduler(store.engine, name=name)
    await sched.start(recorder)
    sched.schedule(when)
    await eventually(lambda: recorder.calls == [when])
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
        when = soon(-1)
        follower.schedule(when)
        await asyncio.sleep(0.3)
        assert calls.calls == []
        leader.lead(True)  # the lock's round: the holder reads the table again
        await eventually(lambda: calls.calls == [when])
        assert follower.scheduled() == set()
    finally:
        await follower.shutdown()
        await leader.shutdown()


@pytest.mark.slow  # two seconds: margins for a loaded machine
async def test_an_early_job_reads_ahead_then_wakes_at_the_moment(
    database_url: str, name: str
) -> None:
    """With `early`, the job runs that long before its moment: `ahead(moment)`, then
    `on_due(moment)` once the moment has come."""
    told: list[tuple[str, datetime, datetime]] = []

    async def ahead(moment: datetime) -> None:
        told.append(("ahead", moment, datetime.now(UTC)))

    async def on_due(moment: datetime | None) -> None:
        assert moment is not None
        told.append(("due", moment, datetime.now(UTC)))

    # Margins for a loaded machine: a moment already past when the job runs is not
    # read ahead for (the run reads what it needs).
    sched = ReminderScheduler(database_url, name=name, early=timedelta(seconds=1.5))
    await sched.start(on_due, ahead=ahead)
    try:
        when = soon(2)
        sched.schedule(when)
        assert sched.scheduled() == {when}  # listed by its moment, not its run time
        await eventually(lambda: len(told) == 2, within=10)
    finally:
        await sched.shutdown()
    [(first, moment, read_at), (then, due, woken_at)] = told
    assert (first, then) == ("ahead", "due") and moment == due == when
    assert read_at < when <= woken_at


async def test_a_shutdown_while_waiting_for_the_moment_runs_nothing(
    database_url: str, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Cut off between reading ahead and the moment: nothing sent, nothing logged as a
    failed job; the store's unsent reminders are the next start's to wake for."""
    read: list[datetime] = []
    recorder = Recorder()

    async def ahead(moment: datetime) -> None:
        read.append(moment)

    sched = ReminderScheduler(database_url, name=name, early=timedelta(minutes=1))
    await sched.start(recorder, ahead=ahead)
    when = soon(30)
    with caplog.at_level(logging.ERROR):
        sched.schedule(when)
        await eventually(lambda: read == [when])
        await eventually(lambda: bool(scheduler_module._WAITING.get(name)))  # for the moment
        await sched.shutdown()
        await eventually(lambda: not scheduler_module._WAITING.get(name))  # cancelled
    assert recorder.calls == []
    assert "raised an exception" not in caplog.text


async def test_a_failed_read_ahead_still_wakes_at_the_moment(database_url: str, name: str) -> None:
    """Reading ahead is an optimisation: when it fails, the run reads what it needs."""

    async def ahead(moment: datetime) -> None:
        raise RuntimeError("Graph away")

    recorder = Recorder()
    sched = ReminderScheduler(database_url, name=name, early=timedelta(seconds=0.2))
    await sched.start(recorder, ahead=ahead)
    try:
        when = soon(0.3)
        sched.schedule(when)
        await eventually(lambda: recorder.calls == [when])
    finally:
        await sched.shutdown()
