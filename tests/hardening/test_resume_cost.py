"""Start-up with many live activations: moments the job store already holds a wake for are
not rewritten (bench/scale.py measured a write per job)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot.domain.command_types import Activate
from bot.domain.people import slack
from bot.domain.reminders import fire_time
from bot.wiring import Services
from tests.support.cast import TICKET, WHY

pytestmark = pytest.mark.slow  # its tests take over ~0.5 s each (see pyproject.toml)


class RecordingTrigger:
    def __init__(self, known: set[datetime]) -> None:
        self.known = known
        self.calls: list[datetime] = []

    def schedule(self, when: datetime) -> None:
        self.calls.append(when)

    def scheduled(self) -> set[datetime]:
        return set(self.known)


async def planned(services: Services) -> set[datetime]:
    await services.pimbot.handle(
        slack("U_ALINE"), Activate("user-admin", timedelta(hours=2), TICKET, WHY)
    )
    now = services.clock.now()
    return {fire_time(r, now) for r in services.store.list_reminders(unsent_only=True)}


async def test_resume_leaves_jobs_already_scheduled_for_their_moment(services: Services) -> None:
    known = await planned(services)
    assert len(known) >= 2
    trigger = RecordingTrigger(known)
    services.reminders.trigger = trigger

    services.reminders.resume()

    assert trigger.calls == []


async def test_resume_schedules_what_the_job_store_lost_or_holds_at_another_time(
    services: Services,
) -> None:
    known = await planned(services)
    lost, moved, *_ = sorted(known)
    held = (known - {lost, moved}) | {moved + timedelta(minutes=5)}
    trigger = RecordingTrigger(held)
    services.reminders.trigger = trigger

    services.reminders.resume()

    assert trigger.calls == [lost, moved]  # in order of time
