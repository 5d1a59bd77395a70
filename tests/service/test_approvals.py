"""Approval use cases: who may decide, exactly once, expiry, cancel, restart."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.domain.audit import AuditKind
from bot.domain.command_types import Activate, Approve, Cancel, Deny
from bot.domain.people import slack
from bot.domain.requests import RequestState
from bot.errors import NotAuthorised, PolicyViolation, RequestNotFound
from bot.service.outcomes import Outcome, OutcomeKind
from bot.service.ports import Profile
from bot.settings import RoleConfig, Settings
from bot.simulators.sandbox import SandboxTenant
from bot.wiring import Services
from tests.support.cast import ALINE, GLOBAL_ADMIN, TICKET, WHY
from tests.support.clock import FakeClock
from tests.support.services import wire
from tests.support.slack_ports import FakeDirectory, RecordingNotifier

pytestmark = pytest.mark.slow  # its tests take over ~0.5 s each (see pyproject.toml)


async def request_global_admin(services: Services) -> Outcome:
    outcome = await services.pimbot.handle(
        slack("U_ALINE"), Activate("global-admin", timedelta(hours=1), TICKET, WHY)
    )
    assert outcome.kind is OutcomeKind.PENDING_APPROVAL
    assert outcome.record is not None
    return outcome


def aline_live(tenant: SandboxTenant) -> bool:
    return tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is not None


async def test_approval_required_role_waits_without_touching_graph(
    services: Services, tenant: SandboxTenant
) -> None:
    outcome = await request_global_admin(services)
    assert outcome.record is not None
    assert outcome.record.state is RequestState.PENDING_APPROVAL
    assert outcome.record.approval_reason
    assert len(tenant.requests) == 0


async def test_an_approver_approves_and_the_activation_runs(
    services: Services, tenant: SandboxTenant
) -> None:
    """The repository's pimbot.yml: Global Administrator needs the admin and Megan."""
    pending = await request_global_admin(services)
    assert pending.record is not None
    first = await services.pimbot.handle(slack("U_ADMIN"), Approve(pending.record.id))
    assert first.record.state is RequestState.PENDING_APPROVAL and not aline_live(tenant)
    decision = await services.pimbot.handle(slack("U_MEGAN"), Approve(pending.record.id))
    assert decision.approved and decision.error is None
    assert decision.record.state is RequestState.ACTIVE
    assert decision.record.decided_by == slack("U_MEGAN")
    assert aline_live(tenant)


async def test_the_requester_cannot_approve_their_own_request(
    services: Services, tenant: SandboxTenant
) -> None:
    pending = await request_global_admin(services)
    assert pending.record is not None
    with pytest.raises(NotAuthorised) as err:
        await services.pimbot.handle(slack("U_ALINE"), Approve(pending.record.id))
    assert "your own request" in err.value.user_message
    record = services.store.get_request(pending.record.id)
    assert record is not None and record.state is RequestState.PENDING_APPROVAL
    assert services.store.audit_events()[-1].kind is AuditKind.DECISION_REFUSED
    assert not aline_live(tenant)


async def test_a_non_approver_is_refused_and_audited(services: Services) -> None:
    pending = await request_global_admin(services)
    assert pending.record is not None
    with pytest.raises(NotAuthorised) as err:
        await services.pimbot.handle(slack("U_ALEX"), Approve(pending.record.id))
    assert "not an approver" in err.value.user_message
    refused = services.store.audit_events()[-1]
    assert refused.kind is AuditKind.DECISION_REFUSED and refused.person == slack("U_ALEX")


async def test_unknown_request_id_is_not_found(services: Services) -> None:
    with pytest.raises(RequestNotFound):
        await services.pimbot.handle(slack("U_ADMIN"), Approve("R-DOESNOTEXIST"))


async def test_deny_records_the_reason_and_nothing_reaches_graph(
    services: Services, tenant: SandboxTenant
) -> None:
    pending = await request_global_admin(services)
    assert pending.record is not None
    decision = await services.pimbot.handle(
        slack("U_ADMIN"), Deny(pending.record.id, "not during freeze")
    )
    assert decision.record.state is RequestState.DENIED
    assert decision.record.decision_reason == "not during freeze"
    assert len(tenant.requests) == 0
    with pytest.raises(NotAuthorised) as err:
        await services.pimbot.handle(slack("U_ADMIN"), Approve(pending.record.id))
    assert "already denied" in err.value.user_message


async def test_twenty_concurrent_approvals_activate_once(
    settings: Settings,
    clock: FakeClock,
    directory: FakeDirectory,
    notifier: RecordingNotifier,
    tenant: SandboxTenant,
) -> None:
    approvers = [f"U_APPROVER{i}" for i in range(20)]
    # Members of the workspace, as Slack would describe them (users.info).
    directory.profiles |= {a: Profile(slack(a), f"{a}@contoso.example", "UTC") for a in approvers}
    config = settings.policy()
    roles = dict(config.roles)
    roles["global-admin"] = RoleConfig.model_validate(
        {
            "role": "Global Administrator",
            "approval": "required",
            "approvers": {"slack_users": approvers},
        }
    )
    services = wire(
        settings, clock, directory, notifier, config=config.model_copy(update={"roles": roles})
    )
    try:
        pending = await request_global_admin(services)
        assert pending.record is not None
        request_id = pending.record.id
        results = await asyncio.gather(
            *(services.pimbot.handle(slack(who), Approve(request_id)) for who in approvers),
            return_exceptions=True,
        )
    finally:
        await services.aclose()
    wins = [r for r in results if not isinstance(r, BaseException)]
    assert len(wins) == 1
    assert all(isinstance(r, NotAuthorised) for r in results if r not in wins)
    assert len(tenant.requests) == 1
    assert len(services.store.list_decisions(request_id)) == 1  # type: ignore[attr-defined]


async def test_undecided_requests_expire_and_cannot_be_approved_after(
    services: Services, clock: FakeClock
) -> None:
    pending = await request_global_admin(services)
    assert pending.record is not None
    clock.advance(timedelta(hours=24, minutes=1))
    expired = await services.approvals.expire_due()
    assert [r.id for r in expired] == [pending.record.id]
    with pytest.raises(NotAuthorised):
        await services.pimbot.handle(slack("U_ADMIN"), Approve(pending.record.id))


async def test_approve_after_timeout_without_a_sweep_expires_it(
    services: Services, clock: FakeClock, tenant: SandboxTenant
) -> None:
    pending = await request_global_admin(services)
    assert pending.record is not None
    clock.advance(timedelta(hours=25))
    with pytest.raises(NotAuthorised) as err:
        await services.pimbot.handle(slack("U_ADMIN"), Approve(pending.record.id))
    assert "expired" in err.value.user_message
    assert len(tenant.requests) == 0


async def test_only_the_requester_can_cancel_and_approve_after_cancel_fails(
    services: Services,
) -> None:
    pending = await request_global_admin(services)
    assert pending.record is not None
    with pytest.raises(RequestNotFound):
        await services.pimbot.handle(slack("U_ADMIN"), Cancel(pending.record.id))
    cancelled = await services.pimbot.handle(slack("U_ALINE"), Cancel(pending.record.id))
    assert cancelled.record is not None and cancelled.record.state is RequestState.CANCELLED
    with pytest.raises(NotAuthorised):
        await services.pimbot.handle(slack("U_ADMIN"), Approve(pending.record.id))


async def test_a_restart_between_request_and_approval_loses_nothing(
    settings: Settings,
    clock: FakeClock,
    directory: FakeDirectory,
    notifier: RecordingNotifier,
    tenant: SandboxTenant,
) -> None:
    first = wire(settings, clock, directory, notifier)
    pending = await request_global_admin(first)
    await first.aclose()
    assert pending.record is not None
    second = wire(settings, clock, directory, notifier)
    try:
        await second.pimbot.handle(slack("U_ADMIN"), Approve(pending.record.id))
        decision = await second.pimbot.handle(slack("U_MEGAN"), Approve(pending.record.id))
    finally:
        await second.aclose()
    assert decision.record.state is RequestState.ACTIVE
    assert aline_live(tenant)


async def test_the_card_is_posted_then_redrawn_and_the_requester_told(
    services: Services, notifier: RecordingNotifier
) -> None:
    pending = await request_global_admin(services)
    assert pending.record is not None
    assert (pending.record.card or "").startswith("C_PIM_APPROVALS ")
    assert notifier.cards[pending.record.id].state is RequestState.PENDING_APPROVAL
    await services.pimbot.handle(slack("U_ADMIN"), Deny(pending.record.id, "change freeze"))
    assert notifier.cards[pending.record.id].state is RequestState.DENIED
    assert notifier.decisions == [(pending.record.id, "denied", None)]


async def test_cancel_and_expiry_redraw_the_card(
    services: Services, notifier: RecordingNotifier, clock: FakeClock
) -> None:
    first = await request_global_admin(services)
    assert first.record is not None
    await services.pimbot.handle(slack("U_ALINE"), Cancel(first.record.id))
    assert notifier.cards[first.record.id].state is RequestState.CANCELLED
    second = await request_global_admin(services)
    assert second.record is not None
    clock.advance(timedelta(days=2))
    await services.approvals.expire_due()
    assert notifier.cards[second.record.id].state is RequestState.EXPIRED
    assert (second.record.id, "expired", None) in notifier.decisions


async def test_approval_needed_but_no_channel_configured_is_refused_up_front(
    settings: Settings,
    clock: FakeClock,
    directory: FakeDirectory,
    notifier: RecordingNotifier,
) -> None:
    config = settings.policy()
    bare = config.model_copy(
        update={"channels": config.channels.model_copy(update={"approvals": None})}
    )
    services = wire(settings, clock, directory, notifier, config=bare)
    try:
        with pytest.raises(PolicyViolation) as err:
            await services.pimbot.handle(
                slack("U_ALINE"), Activate("global-admin", timedelta(hours=1), TICKET, WHY)
            )
    finally:
        await services.aclose()
    assert "channels.approvals" in err.value.user_message
    assert services.store.list_requests() == []
