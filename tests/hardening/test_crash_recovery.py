"""A process that dies mid-activation leaves its request `activating`. The next start
settles it from Graph: active (with reminders) if Entra has the assignment, failed if not;
the requester is told, the audit log says so, and nothing is written to Graph twice."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.domain.audit import AuditKind
from bot.domain.command_types import Activate
from bot.domain.people import slack
from bot.domain.requests import ActivationRecord, RequestState
from bot.domain.targets import Scope, TargetKind
from bot.service.activation import new_request_id
from bot.settings import Settings
from bot.simulators.sandbox import Faults, SandboxTenant
from bot.wiring import Services
from tests.support.cast import ALINE, TICKET, USER_ADMIN, WHY
from tests.support.clock import FakeClock
from tests.support.services import restart
from tests.support.slack_ports import FakeDirectory, RecordingNotifier
from tests.support.stack import GRAPH_WRITES

pytestmark = pytest.mark.slow  # its tests take over ~0.5 s each (see pyproject.toml)

S = RequestState


async def crash_mid_activation(services: Services, faults: Faults, tenant: SandboxTenant) -> str:
    """Start an activation and kill it once Graph has accepted the write but before the
    answer arrives; returns the stuck request's id."""
    faults.lose_response(times=1, delay=5, deliver=True, method="POST", path=GRAPH_WRITES)
    task = asyncio.create_task(
        services.pimbot.handle(
            slack("U_ALINE"), Activate("user-admin", timedelta(hours=2), TICKET, WHY)
        )
    )
    for _ in range(500):
        if tenant.live_assignment(ALINE.id, USER_ADMIN) is not None:
            break
        await asyncio.sleep(0.01)
    task.cancel()  # the process dies here: no code after the await runs
    await asyncio.gather(task, return_exceptions=True)
    stuck = services.store.list_requests(states=frozenset({S.ACTIVATING}))
    assert len(stuck) == 1
    return stuck[0].id


async def test_a_request_graph_accepted_before_the_crash_is_active_after_restart(
    services: Services,
    faults: Faults,
    tenant: SandboxTenant,
    settings: Settings,
    clock: FakeClock,
    directory: FakeDirectory,
    notifier: RecordingNotifier,
) -> None:
    request_id = await crash_mid_activation(services, faults, tenant)
    faults.clear()
    writes = len(tenant.requests)

    fresh = await restart(settings, clock, directory, notifier)
    try:
        record = fresh.store.get_request(request_id)
        assert record is not None and record.state is S.ACTIVE
        live = tenant.live_assignment(ALINE.id, USER_ADMIN)
        assert live is not None and record.end == live.end
        assert fresh.store.list_reminders(request_id=request_id)
        told = [fact for _, fact in notifier.told("activation_settled")]
        assert [(r.id, r.state) for r in told] == [(request_id, S.ACTIVE)]  # type: ignore[attr-defined]
        kinds = [e.kind for e in fresh.store.audit_events()]
        assert AuditKind.ACTIVATED in kinds
        assert len(tenant.requests) == writes  # settled by reading, not by writing again
    finally:
        await fresh.aclose()


async def test_a_request_graph_never_saw_fails_after_restart_and_the_user_is_told(
    services: Services,
    tenant: SandboxTenant,
    settings: Settings,
    clock: FakeClock,
    directory: FakeDirectory,
    notifier: RecordingNotifier,
) -> None:
    now = clock.now()
    record = ActivationRecord(
        id=new_request_id(),
        requester=slack("U_ALINE"),
        principal_id=ALINE.id,
        role_id=USER_ADMIN,
        role_name="User Administrator",
        target_kind=TargetKind.DIRECTORY_ROLE,
        scope=Scope("/"),
        duration=timedelta(hours=2),
        justification=WHY,
        ticket=None,
        state=S.REQUESTED,
        created_at=now,
        updated_at=now,
    )
    services.store.add_request(record)
    services.store.transition(record.id, frozenset({S.REQUESTED}), S.ACTIVATING)
    writes = len(tenant.requests)  # died after the claim, before the POST

    fresh = await restart(settings, clock, directory, notifier)
    try:
        settled = fresh.store.get_request(record.id)
        assert settled is not None and settled.state is S.FAILED
        assert tenant.live_assignment(ALINE.id, USER_ADMIN) is None
        assert len(tenant.requests) == writes
        (told,) = [fact for _, fact in notifier.told("activation_settled")]
        assert told.state is S.FAILED and "please ask again" in (told.error or "")  # type: ignore[attr-defined]
        kinds = [e.kind for e in fresh.store.audit_events()]
        assert AuditKind.ACTIVATION_FAILED in kinds
        # the user can simply ask again
        again = await fresh.pimbot.handle(
            slack("U_ALINE"), Activate("user-admin", timedelta(hours=1), TICKET, WHY)
        )
        assert again.record is not None and again.record.state is S.ACTIVE
    finally:
        await fresh.aclose()


async def test_a_second_restart_changes_nothing(
    services: Services,
    faults: Faults,
    tenant: SandboxTenant,
    settings: Settings,
    clock: FakeClock,
    directory: FakeDirectory,
    notifier: RecordingNotifier,
) -> None:
    request_id = await crash_mid_activation(services, faults, tenant)
    faults.clear()
    first = await restart(settings, clock, directory, notifier)
    await first.aclose()
    facts, audits = len(notifier.facts), len(notifier.audits)

    second = await restart(settings, clock, directory, notifier)
    try:
        record = second.store.get_request(request_id)
        assert record is not None and record.state is S.ACTIVE
        assert (len(notifier.facts), len(notifier.audits)) == (facts, audits)
    finally:
        await second.aclose()
