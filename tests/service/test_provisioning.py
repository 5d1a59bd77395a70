"""Only an activation Entra has applied is announced as active. A request Entra accepted
but is still applying (PendingProvisioning, Granted, ...) is followed until its request is
Provisioned, or ended without one
(https://learn.microsoft.com/en-us/graph/api/resources/unifiedroleassignmentschedulerequest
lists the statuses). The sandbox models the delay on its clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.audit import AuditKind
from bot.domain.command_types import Activate
from bot.domain.people import slack
from bot.domain.requests import RequestState
from bot.service.outcomes import OutcomeKind
from bot.simulators.sandbox import SandboxTenant
from bot.wiring import Services
from tests.support.cast import ALINE, TICKET, USER_ADMIN, WHY
from tests.support.clock import FakeClock
from tests.support.slack_ports import RecordingNotifier

pytestmark = pytest.mark.slow  # its tests take over ~0.5 s each (see pyproject.toml)


async def _accepted(services: Services, tenant: SandboxTenant) -> str:
    tenant.provisioning_delay = timedelta(minutes=2)
    outcome = await services.pimbot.handle(
        slack("U_ALINE"), Activate("user-admin", timedelta(hours=1), TICKET, WHY)
    )
    assert outcome.kind is OutcomeKind.PROVISIONING  # not "active"
    assert outcome.record is not None and outcome.graph_request_id is not None
    assert tenant.request(outcome.graph_request_id).status == "PendingProvisioning"
    return outcome.record.id


async def test_a_pending_provisioning_is_announced_only_once_in_effect(
    services: Services, tenant: SandboxTenant, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    request_id = await _accepted(services, tenant)
    record = services.store.get_request(request_id)
    assert record is not None and record.state is RequestState.ACTIVATING
    assert services.store.list_reminders(request_id=request_id) == []

    await services.sweep()  # still being applied: nothing changes, nobody is told
    assert services.store.get_request(request_id).state is RequestState.ACTIVATING  # type: ignore[union-attr]
    assert notifier.told("activation_settled") == []

    clock.advance(timedelta(minutes=2))
    await services.sweep()

    done = services.store.get_request(request_id)
    assert done is not None and done.state is RequestState.ACTIVE
    live = tenant.live_assignment(ALINE.id, USER_ADMIN)
    assert live is not None and done.end == live.end
    assert [r.id for _, r in notifier.told("activation_settled")] == [request_id]  # type: ignore[attr-defined]
    assert services.store.list_reminders(request_id=request_id)  # planned now
    kinds = [e.kind for e in services.store.audit_events()]
    assert kinds.count(AuditKind.ACTIVATED) == 1


async def test_a_request_entra_ends_while_applying_it_fails_and_is_told(
    services: Services, tenant: SandboxTenant, notifier: RecordingNotifier
) -> None:
    request_id = await _accepted(services, tenant)
    record = services.store.get_request(request_id)
    assert record is not None and record.graph_request_id is not None
    tenant.request(record.graph_request_id).status = "Failed"  # Entra gave up on it

    await services.sweep()

    failed = services.store.get_request(request_id)
    assert failed is not None and failed.state is RequestState.FAILED
    assert failed.error is not None and "Failed" in failed.error
    assert [r.id for _, r in notifier.told("activation_settled")] == [request_id]  # type: ignore[attr-defined]
    assert services.store.audit_events()[-1].kind is AuditKind.ACTIVATION_FAILED
