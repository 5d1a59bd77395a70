"""Planning many activations' reminders at once, off the event loop: one transaction for
their reminders, and a wake per distinct moment on the real APScheduler scheduler running
on the loop (its `add_job` called from the worker thread)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.domain.reminders import WAKE_GRID, reminder_plan, wake_at
from bot.service.reminders import ReminderService
from bot.store.scheduler import ReminderScheduler
from bot.wiring import Services
from tests.support.records import activation_record

pytestmark = pytest.mark.slow  # the scheduler's job table on the services' database
COUNT = 40


async def test_plan_many_from_a_worker_thread_saves_them_and_wakes_once_per_moment(
    services: Services,
) -> None:
    fired: list[datetime | None] = []

    async def on_due(moment: datetime | None) -> None:
        fired.append(moment)

    # Ends a day of the wall clock ahead: APScheduler runs on the wall clock, and none
    # of these may fire during the test.
    end = datetime.now(UTC) + timedelta(days=1)
    records = [
        activation_record(id=f"R-MANY{n:03d}", start=end - timedelta(hours=2), end=end)
        for n in range(COUNT)
    ]
    for record in records:
        services.store.add_request(record)
    sched = ReminderScheduler(services.store.engine, name=f"many-{uuid.uuid4().hex[:8]}")
    await sched.start(on_due)
    try:
        reminders = ReminderService(services.deps, sched)
        planned = await asyncio.to_thread(reminders.plan_many, records)
        await asyncio.sleep(0)  # the scheduler's wake-ups, posted to this loop, run
        now = services.clock.now()
        leads = services.config.reminders.lead_times
        expected = [
            r
            for rec in records
            for r in reminder_plan(end, leads, now, request_id=rec.id, start=rec.start)
        ]
        assert {r.id for r in planned} == {r.id for r in expected}
        unsent = services.store.list_reminders(unsent_only=True)
        assert {r.id for r in unsent} == {r.id for r in expected}
        # They all end together: a wake per lead time and one for the end, not per reminder.
        assert sched.scheduled() == {wake_at(r.due_at) for r in expected}
        assert len(sched.scheduled()) == len(leads) + 1 < len(expected)
        assert fired == []
    finally:
        await sched.shutdown()


def test_a_wake_is_never_before_its_moment_and_at_most_a_grid_step_after() -> None:
    on_grid = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert wake_at(on_grid) == on_grid
    for late in (timedelta(microseconds=1), WAKE_GRID / 2, WAKE_GRID - timedelta(microseconds=1)):
        assert wake_at(on_grid + late) == on_grid + WAKE_GRID
    odd = datetime(2026, 12, 1, 9, 0, 7, 123456, tzinfo=timezone(timedelta(hours=5)))
    assert odd <= wake_at(odd) < odd + WAKE_GRID


class CountingTrigger:
    """The real scheduler, counting the jobs asked of it (each a write to its table)."""

    def __init__(self, inner: ReminderScheduler) -> None:
        self.inner, self.asked = inner, list[datetime]()

    def schedule(self, when: datetime) -> None:
        self.asked.append(when)
        self.inner.schedule(when)


async def test_activations_ending_within_a_grid_step_share_their_wakes(
    services: Services,
) -> None:
    """At 100 activations a second each ends at its own moment; a job per moment was an
    eighth of the bot's CPU. Those planned one after another within a step share a job,
    and planning one again asks for no job."""
    end = wake_at(datetime.now(UTC) + timedelta(days=1)) + timedelta(microseconds=1)
    records = [
        activation_record(
            id=f"R-GRID{n:03d}", start=end - timedelta(hours=2), end=end + n * WAKE_GRID / 5
        )
        for n in range(5)
    ]
    for record in records:
        services.store.add_request(record)
    sched = ReminderScheduler(services.store.engine, name=f"grid-{uuid.uuid4().hex[:8]}")
    await sched.start(lambda moment: asyncio.sleep(0))
    try:
        trigger = CountingTrigger(sched)
        reminders = ReminderService(services.deps, trigger)
        planned = [r for record in records for r in reminders.plan(record)]
        reminders.plan(records[0])
        leads = services.config.reminders.lead_times
        assert len(trigger.asked) == len(leads) + 1 < len(planned)
        assert sched.scheduled() == set(trigger.asked)
        for reminder in planned:  # each woken for at or after its moment, within a step
            wake = min(at for at in trigger.asked if reminder.due_at <= at)
            assert wake - reminder.due_at < WAKE_GRID
    finally:
        await sched.shutdown()
