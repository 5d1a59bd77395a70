"""A request a dead replica left `activating` (its lease lapsed: bot/service/leases.py),
carried on by a survivor through recovery's `recover_one`: asked again when Graph shows
nothing, and settled from Graph, never activated twice, when the dead replica's own
request reached Graph after the survivor looked."""

from __future__ import annotations

import pytest

from bot.domain.audit import AuditKind
from bot.domain.models import ActivationSpec
from bot.domain.requests import ActivationRecord, RequestState
from bot.service.activation import new_request_id
from bot.service.recovery import CarryOn, carry_on_request, recover_one
from bot.simulators.sandbox import Faults, SandboxTenant
from bot.wiring import Services
from tests.support.cast import ALINE, USER_ADMIN
from tests.support.records import activation_record
from tests.support.slack_ports import RecordingNotifier
from tests.support.stack import GRAPH_WRITES

pytestmark = pytest.mark.slow  # the sandbox over HTTP, as the crash-recovery tests

S = RequestState


def _left_activating(services: Services) -> ActivationRecord:
    """What a replica killed before its POST reached Graph leaves: `activating`, no answer."""
    now = services.clock.now()
    record = activation_record(
        id=new_request_id(), state=S.ACTIVATING, start=None, end=None, created_at=now,
        updated_at=now,
    )  # fmt: skip
    services.store.add_request(record)
    return record


def _how(services: Services) -> CarryOn:
    pim = services.service
    return CarryOn(pim.carry_on_requested, services.approvals.carry_out, pim.carry_on)


def _settled(notifier: RecordingNotifier) -> list[tuple[str, RequestState]]:
    told = [fact for _, fact in notifier.told("activation_settled")]
    return [(r.id, r.state) for r in told]  # type: ignore[attr-defined]


async def test_nothing_in_graph_is_asked_again_once_and_the_requester_told(
    services: Services, faults: Faults, tenant: SandboxTenant, notifier: RecordingNotifier
) -> None:
    record = _left_activating(services)

    await carry_on_request(services.deps, services.reminders, _how(services), record.id)

    done = services.store.get_request(record.id)
    assert done is not None and done.state is S.ACTIVE
    assert tenant.live_assignment(ALINE.id, USER_ADMIN) is not None
    assert faults.count("POST", GRAPH_WRITES) == 1
    assert _settled(notifier) == [(record.id, S.ACTIVE)]
    assert services.store.list_reminders(request_id=record.id)  # planned like any activation


async def test_the_dead_replicas_request_landing_first_is_settled_not_refused(
    services: Services, faults: Faults, tenant: SandboxTenant, notifier: RecordingNotifier
) -> None:
    """The survivor read Graph (nothing), then the dead replica's held POST landed, then
    the survivor's POST: Graph refuses it as a duplicate (RoleAssignmentExists), and the
    request is settled from what Graph holds: active, told once, not refused."""
    record = _left_activating(services)
    spec = ActivationSpec(
        record.principal_id, record.target, record.duration, record.justification,
        record.ticket, start=services.clock.now(),
    )  # fmt: skip

    async def dead_replicas_post_lands_then_ask_again(stuck: ActivationRecord) -> int:
        await services.graph.activate(spec)  # the dead replica's request, late
        return await services.service.carry_on(stuck)

    settled = await recover_one(
        services.deps, services.reminders, record, dead_replicas_post_lands_then_ask_again
    )

    assert settled == 1
    done = services.store.get_request(record.id)
    assert done is not None and done.state is S.ACTIVE
    statuses = sorted(c.status for c in faults.find("POST", GRAPH_WRITES))
    assert statuses == [201, 400]  # one activation; the survivor's refused as a duplicate
    assert _settled(notifier) == [(record.id, S.ACTIVE)]
    kinds = [e.kind for e in services.store.audit_events()]
    assert AuditKind.ACTIVATED in kinds and AuditKind.REFUSED not in kinds


async def test_an_approved_request_is_activated_by_the_approval_path(
    services: Services, faults: Faults, tenant: SandboxTenant, notifier: RecordingNotifier
) -> None:
    """Approved, and its approver's replica died before activating it: the survivor runs
    the approval's own path (the eligibility checked again, then one activation, then the
    decision announced)."""
    now = services.clock.now()
    record = activation_record(
        id=new_request_id(), state=S.APPROVED, start=None, end=None, created_at=now,
        updated_at=now,
    )  # fmt: skip
    services.store.add_request(record)

    await carry_on_request(services.deps, services.reminders, _how(services), record.id)

    done = services.store.get_request(record.id)
    assert done is not None and done.state is S.ACTIVE
    assert faults.count("POST", GRAPH_WRITES) == 1
    assert notifier.decisions == [(record.id, "active", None)]  # the requester told once


async def test_a_checked_request_its_replica_never_sent_is_activated_once(
    services: Services, faults: Faults, tenant: SandboxTenant, notifier: RecordingNotifier
) -> None:
    """Stored and leased as `requested` (checked, no approval needed), then its replica
    died before claiming it: the survivor claims and activates it, and tells the user."""
    now = services.clock.now()
    record = activation_record(
        id=new_request_id(), state=S.REQUESTED, start=None, end=None, created_at=now,
        updated_at=now,
    )  # fmt: skip
    services.store.add_request(record)

    await carry_on_request(services.deps, services.reminders, _how(services), record.id)
    await carry_on_request(services.deps, services.reminders, _how(services), record.id)

    done = services.store.get_request(record.id)
    assert done is not None and done.state is S.ACTIVE
    assert faults.count("POST", GRAPH_WRITES) == 1  # the second takeover found it settled
    assert _settled(notifier) == [(record.id, S.ACTIVE)]
