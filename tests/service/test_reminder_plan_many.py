"""Planning many activations' reminders at once, off the event loop: one transaction for
their reminders, and a wake per distinct moment on the real APScheduler scheduler running
on the loop (its `add_job` called from the worker thread)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.reminders import reminder_plan
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
        assert sched.scheduled() == {r.due_at for r in expected}
        assert len(sched.scheduled()) == len(leads) + 1 < len(expected)
        assert fired == []
    finally:
        await sched.shutdown()
