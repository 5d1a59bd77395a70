"""Reminders falling due together: claimed in batches, confirmed with Graph once per
run (one tenant-wide read its batches share, not one per reminder), each sent once even with two
services on one database, and an activation removed in the portal gets no reminder,
only the ended notice."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from bot.domain.command_types import Activate
from bot.domain.people import slack
from bot.domain.reminders import ReminderKind
from bot.service.reminders import BATCH, ENDED_OUTSIDE, READ_AHEAD
from bot.simulators.sandbox import SandboxServer, SandboxTenant
from bot.simulators.sandbox.faults import Faults
from bot.wiring import Services
from tests.support.cast import ALINE, TICKET, USER_ADMIN, WHY
from tests.support.clock import FakeClock
from tests.support.held import held_elsewhere
from tests.support.services import wire
from tests.support.settings import make_settings
from tests.support.slack_ports import FakeDirectory, RecordingNotifier

pytestmark = pytest.mark.slow  # an activation against the sandbox each

INSTANCES = "/v1.0/roleManagement/directory/roleAssignmentScheduleInstances"
HOUR = timedelta(hours=1)


async def test_a_burst_is_confirmed_with_one_tenant_wide_read_and_a_portal_removal_is_not_reminded(
    services: Services,
    tenant: SandboxTenant,
    faults: Faults,
    clock: FakeClock,
    notifier: RecordingNotifier,
) -> None:
    outcome = await services.pimbot.handle(
        slack("U_ALINE"), Activate("user-admin", HOUR, TICKET, WHY)
    )
    assert outcome.record is not None
    others = held_elsewhere(services, tenant, BATCH + 30)  # more than one batch
    removed = tenant.live_assignment(ALINE.id, USER_ADMIN)
    assert removed is not None
    removed.ended = True  # an admin removed Aline's in the Entra portal
    faults.clear_log()

    clock.advance(timedelta(minutes=46))  # every 15-minute reminder is due
    assert await services.reminders.run_due() == len(others) + 1

    assert sorted(rid for rid, _ in notifier.reminders) == sorted(r.id for r in others)
    assert notifier.ended == [(outcome.record.id, ENDED_OUTSIDE)]
    # Graph pages a long answer (`$skiptoken`): the next pages belong to the same read.
    reads = [c for c in faults.find("GET", INSTANCES) if "skiptoken" not in c.query]
    tenant_wide = [c for c in reads if "principalId" not in c.query]
    per_user = [c for c in reads if "principalId" in c.query]
    assert len(tenant_wide) == 1  # one per run, however many people and batches
    # The one activation the tenant-wide read no longer shows is asked about once, for
    # its user (and the groups they belong to); nobody else is read on their own.
    assert any(ALINE.id in c.query for c in per_user)
    assert not any(r.principal_id in c.query for c in per_user for r in others)
    assert await services.reminders.run_due() == 0  # sent is sent


async def test_two_services_on_one_database_send_each_reminder_once(
    database_url: str,
    sandbox: SandboxServer,
    tmp_path: Path,
    tenant: SandboxTenant,
    clock: FakeClock,
    directory: FakeDirectory,
    notifier: RecordingNotifier,
) -> None:
    """Two replicas' sweeps (or scheduler jobs) running the due reminders side by side,
    on SQLite and on PostgreSQL (`database_url`: a schema of its own)."""
    settings = make_settings(tmp_path, sandbox=sandbox, pim_database_url=database_url)
    one, other = (wire(settings, clock, directory, notifier) for _ in range(2))
    try:
        records = held_elsewhere(one, tenant, 2 * BATCH + 10)
        clock.advance(timedelta(minutes=46))
        handled = await asyncio.gather(one.reminders.run_due(), other.reminders.run_due())
    finally:
        await one.aclose()
        await other.aclose()
    assert sum(handled) == len(records)
    assert sorted(rid for rid, _ in notifier.reminders) == sorted(r.id for r in records)


async def test_scheduler_jobs_falling_due_together_make_one_run(
    services: Services,
    tenant: SandboxTenant,
    faults: Faults,
    clock: FakeClock,
    notifier: RecordingNotifier,
) -> None:
    """Wakes falling due together (a moment each, replicas' duplicates): the first runs
    the batch; the others, arriving meanwhile, ask it to look again instead of each
    reading Graph."""
    records = held_elsewhere(services, tenant, 40)
    faults.clear_log()
    clock.advance(timedelta(minutes=46))
    due = [r for r in services.store.list_reminders(unsent_only=True) if r.due_at <= clock.now()]
    assert len(due) == len(records)
    await asyncio.gather(*(services.reminders.on_due(r.due_at) for r in due))
    assert sorted(rid for rid, _ in notifier.reminders) == sorted(r.id for r in records)
    reads = [c for c in faults.find("GET", INSTANCES) if "skiptoken" not in c.query]
    assert len(reads) == 1


def tenant_wide_reads(faults: Faults) -> int:
    """Tenant-wide reads of live instances (a read's further pages not counted)."""
    reads = [c for c in faults.find("GET", INSTANCES) if "skiptoken" not in c.query]
    return len([c for c in reads if "principalId" not in c.query])


async def test_a_read_ahead_confirms_the_burst_at_its_moment_without_reading_again(
    services: Services,
    tenant: SandboxTenant,
    faults: Faults,
    clock: FakeClock,
    notifier: RecordingNotifier,
) -> None:
    """The scheduler wakes `READ_AHEAD` early: the read made then is the run's, so the
    reminders go out at the moment without waiting for Graph."""
    records = held_elsewhere(services, tenant, 40)
    moment = min(r.due_at for r in services.store.list_reminders(unsent_only=True))
    clock.advance(moment - clock.now() - READ_AHEAD)
    faults.clear_log()

    await services.reminders.read_ahead(moment)
    assert tenant_wide_reads(faults) == 1
    assert notifier.reminders == []
    clock.advance(READ_AHEAD)
    await services.reminders.on_due(moment)

    assert sorted(rid for rid, _ in notifier.reminders) == sorted(r.id for r in records)
    assert tenant_wide_reads(faults) == 1  # the read made ahead, no other


async def test_a_read_ahead_left_by_a_moment_long_past_is_not_used(
    services: Services,
    tenant: SandboxTenant,
    faults: Faults,
    clock: FakeClock,
    notifier: RecordingNotifier,
) -> None:
    """A run long after the moment read ahead for (the bot busy, or stopped and started)
    confirms with a read of its own: what Graph says now."""
    records = held_elsewhere(services, tenant, 3)
    moment = min(r.due_at for r in services.store.list_reminders(unsent_only=True))
    clock.advance(moment - clock.now() - READ_AHEAD)
    await services.reminders.read_ahead(moment)
    faults.clear_log()

    clock.advance(READ_AHEAD * 3)
    await services.reminders.run_due()

    assert sorted(rid for rid, _ in notifier.reminders) == sorted(r.id for r in records)
    assert tenant_wide_reads(faults) == 1  # its own


async def test_nothing_to_confirm_reads_nothing_ahead(
    services: Services, tenant: SandboxTenant, faults: Faults, clock: FakeClock
) -> None:
    """Only "ends in" reminders of live activations are confirmed: a moment with none
    due (or the ended notice alone left to send) costs no Graph read."""
    [record] = held_elsewhere(services, tenant, 1)
    assert record.end is not None
    reminders = services.store.list_reminders(request_id=record.id)
    leads = [r.id for r in reminders if r.kind is ReminderKind.LEAD]
    assert leads and len(leads) < len(reminders)
    faults.clear_log()
    first = min(r.due_at for r in reminders)
    await services.reminders.read_ahead(first - timedelta(seconds=1))
    services.store.mark_reminders_sent(leads, clock.now())
    await services.reminders.read_ahead(record.end)
    assert tenant_wide_reads(faults) == 0
