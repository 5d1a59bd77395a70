"""Reminders and the ended notice with a moved clock; restarts; reconciliation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.audit import AuditKind
from bot.domain.command_types import Activate, Deactivate, Extend
from bot.domain.people import slack
from bot.domain.requests import ActivationRecord, RequestState
from bot.settings import Settings
from bot.simulators.sandbox import SandboxTenant
from bot.wiring import Services
from tests.support.cast import ALINE, TICKET, USER_ADMIN, WHY
from tests.support.clock import FakeClock
from tests.support.services import wire
from tests.support.slack_ports import FakeDirectory, RecordingNotifier

pytestmark = pytest.mark.slow  # its tests take over ~0.5 s each (see pyproject.toml)


async def activate(services: Services, hours: float = 1) -> ActivationRecord:
    outcome = await services.pimbot.handle(
        slack("U_ALINE"), Activate("user-admin", timedelta(hours=hours), TICKET, WHY)
    )
    assert outcome.record is not None
    return outcome.record


async def test_reminder_at_the_lead_time_then_ended_notice_once_each(
    services: Services, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    record = await activate(services)
    clock.advance(timedelta(minutes=44))
    assert await services.reminders.run_due() == 0
    clock.advance(timedelta(minutes=1))
    await services.reminders.run_due()
    await services.reminders.run_due()
    assert [rid for rid, _ in notifier.reminders] == [record.id]
    clock.advance(timedelta(minutes=15))
    await services.reminders.run_due()
    await services.reminders.on_due(clock.now())  # a duplicate wake
    assert notifier.ended == [(record.id, None)]
    stored = services.store.get_request(record.id)
    assert stored is not None and stored.state is RequestState.ENDED
    kinds = [e.kind for e in services.store.audit_events()]
    assert kinds.count(AuditKind.REMINDED) == 1 and kinds.count(AuditKind.ENDED) == 1


async def test_deactivation_cancels_the_reminders(
    services: Services, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    await activate(services)
    clock.advance(timedelta(minutes=5))  # Entra refuses a deactivation within 5 minutes
    await services.pimbot.handle(slack("U_ALINE"), Deactivate("user-admin"))
    clock.advance(timedelta(hours=2))
    await services.reminders.run_due()
    assert notifier.reminders == [] and notifier.ended == []


async def test_extension_reschedules_the_reminder(
    services: Services, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    record = await activate(services)
    clock.advance(timedelta(minutes=46))
    await services.reminders.run_due()
    await services.pimbot.handle(slack("U_ALINE"), Extend("user-admin", timedelta(hours=1)))
    clock.advance(timedelta(minutes=30))
    await services.reminders.run_due()
    assert len(notifier.reminders) == 1  # now +76 min; the new lead moment is +105 min
    clock.advance(timedelta(minutes=30))
    await services.reminders.run_due()
    assert [rid for rid, _ in notifier.reminders] == [record.id, record.id]
    assert notifier.ended == []


async def test_a_reminder_missed_while_down_is_sent_late_once_after_restart(
    settings: Settings,
    clock: FakeClock,
    directory: FakeDirectory,
    notifier: RecordingNotifier,
) -> None:
    first = wire(settings, clock, directory, notifier)
    record = await activate(first)
    await first.aclose()
    clock.advance(timedelta(minutes=50))  # the 45-minute moment passed while down
    second = wire(settings, clock, directory, notifier)
    try:
        await second.reminders.run_due()
        await second.reminders.run_due()
    finally:
        await second.aclose()
    assert [rid for rid, _ in notifier.reminders] == [record.id]


async def test_after_the_end_passed_while_down_only_the_ended_notice_goes_out(
    settings: Settings,
    clock: FakeClock,
    directory: FakeDirectory,
    notifier: RecordingNotifier,
) -> None:
    first = wire(settings, clock, directory, notifier)
    record = await activate(first)
    await first.aclose()
    clock.advance(timedelta(hours=2))
    second = wire(settings, clock, directory, notifier)
    try:
        await second.reminders.run_due()
    finally:
        await second.aclose()
    assert notifier.reminders == []
    assert notifier.ended == [(record.id, None)]


async def test_reconciliation_notices_a_deactivation_outside_the_bot(
    services: Services, tenant: SandboxTenant, notifier: RecordingNotifier
) -> None:
    record = await activate(services)
    live = tenant.live_assignment(ALINE.id, USER_ADMIN)
    assert live is not None
    live.ended = True  # as if removed in the Entra portal
    assert await services.reminders.reconcile() == 1
    stored = services.store.get_request(record.id)
    assert stored is not None and stored.state is RequestState.ENDED
    ((ended_id, detail),) = notifier.ended
    assert ended_id == record.id and detail is not None and "outside pimbot" in detail
    assert await services.reminders.reconcile() == 0
