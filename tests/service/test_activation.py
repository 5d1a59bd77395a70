"""Activation use cases against the sandbox tenant: the card's command and every refusal."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.audit import AuditKind
from bot.domain.command_types import Activate, Deactivate, Extend
from bot.domain.people import slack
from bot.domain.requests import RequestState
from bot.errors import (
    AlreadyActive,
    AlreadyRequested,
    GraphError,
    InputError,
    NotActive,
    NotAllowed,
    NotEligible,
    PimError,
    PolicyViolation,
    TooSoonToDeactivate,
    UserNotMapped,
)
from bot.service.leases import Leases
from bot.service.outcomes import OutcomeKind
from bot.service.recovery import recover_activating
from bot.simulators.sandbox import Faults, SandboxTenant
from bot.wiring import Services
from tests.support.cast import ALINE, GLOBAL_ADMIN, TICKET, USER_ADMIN, WHY
from tests.support.clock import FakeClock
from tests.support.stack import GRAPH_WRITES

pytestmark = pytest.mark.slow  # its tests take over ~0.5 s each (see pyproject.toml)


def writes(tenant: SandboxTenant) -> int:
    """Schedule requests the tenant has received (refusals included)."""
    return len(tenant.requests)


async def test_card_command_activates_user_admin_for_five_hours(
    services: Services, tenant: SandboxTenant
) -> None:
    outcome = await services.pimbot.handle(
        slack("U_ALINE"), Activate("user-admin", timedelta(hours=5), TICKET, WHY)
    )
    assert outcome.kind is OutcomeKind.ACTIVATED
    live = tenant.live_assignment(ALINE.id, USER_ADMIN)
    assert live is not None and live.end is not None
    assert live.end - live.start == timedelta(hours=5)
    assert outcome.end == live.end
    record = services.store.get_request(outcome.record.id if outcome.record else "")
    assert record is not None and record.state is RequestState.ACTIVE
    assert record.graph_request_id == outcome.graph_request_id
    assert record.ticket is not None and record.ticket.number == TICKET
    kinds = [e.kind for e in services.store.audit_events()]
    assert kinds == [AuditKind.REQUESTED, AuditKind.ACTIVATED]
    due = [r.due_at for r in services.store.list_reminders(request_id=record.id)]
    assert due == [live.end - timedelta(minutes=15), live.end]


async def test_not_eligible_names_the_roles_the_user_can_activate(
    services: Services, tenant: SandboxTenant
) -> None:
    before = writes(tenant)
    with pytest.raises(NotEligible) as err:
        await services.pimbot.handle(
            slack("U_ALINE"), Activate("sharepoint-admin", timedelta(hours=1), TICKET, WHY)
        )
    assert "SharePoint Administrator" in err.value.user_message
    assert "user-admin" in err.value.user_message
    assert writes(tenant) == before


async def test_duration_over_the_maximum_is_refused_before_graph(
    services: Services, tenant: SandboxTenant
) -> None:
    with pytest.raises(PolicyViolation) as err:
        await services.pimbot.handle(
            slack("U_ALINE"), Activate("user-admin", timedelta(hours=9), TICKET, WHY)
        )
    assert "8 hours" in err.value.user_message
    assert writes(tenant) == 0
    assert [e.kind for e in services.store.audit_events()] == [AuditKind.REFUSED]


async def test_ticket_required_role_refuses_a_request_without_one(
    services: Services, tenant: SandboxTenant
) -> None:
    with pytest.raises(PolicyViolation) as err:
        await services.pimbot.handle(
            slack("U_ALINE"), Activate("security-admin", timedelta(hours=1), None, WHY)
        )
    assert "CONTOSO:Security-012345" in err.value.user_message
    assert writes(tenant) == 0


async def test_unknown_role_suggests_a_name(services: Services) -> None:
    with pytest.raises(InputError) as err:
        await services.pimbot.handle(
            slack("U_ALINE"), Activate("user-admn", timedelta(hours=1), TICKET, WHY)
        )
    assert "user-admin" in err.value.user_message


async def test_already_active_says_until_when(services: Services, tenant: SandboxTenant) -> None:
    await services.pimbot.handle(
        slack("U_ALINE"), Activate("user-admin", timedelta(hours=2), TICKET, WHY)
    )
    with pytest.raises(AlreadyActive) as err:
        await services.pimbot.handle(
            slack("U_ALINE"), Activate("user-admin", timedelta(hours=1), TICKET, WHY)
        )
    assert "already active" in err.value.user_message
    assert "extend" in err.value.user_message
    assert writes(tenant) == 1


@pytest.mark.parametrize(
    ("slack_user", "says", "error"),
    [
        ("U_NOMAIL", "verified email", NotAllowed),
        ("U_STRANGER", "stranger@example.com", UserNotMapped),
    ],
)
async def test_unmapped_user_is_told_what_the_admin_must_do(
    services: Services, slack_user: str, says: str, error: type[PimError]
) -> None:
    with pytest.raises(error) as err:
        await services.pimbot.handle(
            slack(slack_user), Activate("user-admin", timedelta(hours=1), TICKET, WHY)
        )
    assert says in err.value.user_message
    assert "pimbot.yml" in err.value.user_message


async def test_graph_failure_leaves_the_store_agreeing_with_graph(
    services: Services, tenant: SandboxTenant, faults: Faults
) -> None:
    faults.fail(503, times=20, method="POST", path=GRAPH_WRITES)
    with pytest.raises(GraphError) as err:
        await services.pimbot.handle(
            slack("U_ALINE"), Activate("user-admin", timedelta(hours=1), TICKET, WHY)
        )
    assert "try again" in err.value.user_message.lower()
    assert tenant.live_assignment(ALINE.id, USER_ADMIN) is None
    (record,) = services.store.list_requests(requester=slack("U_ALINE"))
    assert record.state is RequestState.FAILED
    assert services.store.list_reminders(request_id=record.id) == []
    assert services.store.audit_events()[-1].kind is AuditKind.ACTIVATION_FAILED


async def test_deactivating_in_the_first_five_minutes_says_from_when_it_can_be(
    services: Services, tenant: SandboxTenant, clock: FakeClock
) -> None:
    """Entra refuses to end an activation in its first 5 minutes (ActiveDurationTooShort):
    pimbot says so, with the time it becomes possible, and sends nothing."""
    await services.pimbot.handle(
        slack("U_ALINE"), Activate("user-admin", timedelta(hours=2), TICKET, WHY)
    )
    started = tenant.live_assignment(ALINE.id, USER_ADMIN)
    assert started is not None
    clock.advance(timedelta(minutes=4))

    with pytest.raises(TooSoonToDeactivate) as early:
        await services.pimbot.handle(slack("U_ALINE"), Deactivate("user-admin"))

    assert early.value.allowed_at == started.start + timedelta(minutes=5)
    assert f"from {early.value.allowed_at:%H:%M} UTC" in early.value.user_message
    assert tenant.live_assignment(ALINE.id, USER_ADMIN) is not None
    clock.advance(timedelta(minutes=1))
    await services.pimbot.handle(slack("U_ALINE"), Deactivate("user-admin"))
    assert tenant.live_assignment(ALINE.id, USER_ADMIN) is None


async def test_deactivate_ends_the_assignment_and_its_reminders(
    services: Services, tenant: SandboxTenant, clock: FakeClock
) -> None:
    outcome = await services.pimbot.handle(
        slack("U_ALINE"), Activate("user-admin", timedelta(hours=2), TICKET, WHY)
    )
    assert outcome.record is not None
    clock.advance(timedelta(minutes=5))  # Entra refuses a deactivation within 5 minutes
    await services.pimbot.handle(slack("U_ALINE"), Deactivate("user-admin"))
    assert tenant.live_assignment(ALINE.id, USER_ADMIN) is None
    record = services.store.get_request(outcome.record.id)
    assert record is not None and record.state is RequestState.ENDED
    assert services.store.list_reminders(request_id=record.id, unsent_only=True) == []
    with pytest.raises(NotActive):
        await services.pimbot.handle(slack("U_ALINE"), Deactivate("user-admin"))


async def test_extend_moves_the_end_and_replans_reminders(
    services: Services, tenant: SandboxTenant, clock: FakeClock
) -> None:
    outcome = await services.pimbot.handle(
        slack("U_ALINE"), Activate("user-admin", timedelta(hours=2), TICKET, WHY)
    )
    assert outcome.record is not None and outcome.end is not None
    clock.advance(timedelta(minutes=5))  # extending ends it first: Entra's 5-minute floor
    extended = await services.pimbot.handle(
        slack("U_ALINE"), Extend("user-admin", timedelta(hours=1))
    )
    live = tenant.live_assignment(ALINE.id, USER_ADMIN)
    assert live is not None and live.end == outcome.end + timedelta(hours=1)
    assert extended.end == live.end
    due = [r.due_at for r in services.store.list_reminders(request_id=outcome.record.id)]
    assert due == [live.end - timedelta(minutes=15), live.end]


async def test_extend_past_the_maximum_is_refused(services: Services) -> None:
    await services.pimbot.handle(
        slack("U_ALINE"), Activate("user-admin", timedelta(hours=7), TICKET, WHY)
    )
    with pytest.raises(PolicyViolation) as err:
        await services.pimbot.handle(slack("U_ALINE"), Extend("user-admin", timedelta(hours=2)))
    assert "allows 8 hours in all" in err.value.user_message
    assert "7 hours used, so you can extend by at most 1 hour" in err.value.user_message


async def test_overview_lists_eligible_roles_with_groups_and_active_ones(
    services: Services,
) -> None:
    await services.pimbot.handle(
        slack("U_ALINE"), Activate("user-admin", timedelta(hours=1), TICKET, WHY)
    )
    overview = await services.pimbot.overview(slack("U_ALINE"))
    names = {e.role.display_name: e for e in overview.eligible}
    assert names["User Administrator"].via_group_name == "IT Helpdesk (User)"
    assert names["Global Administrator"].policy.approval_required
    assert [a.role.display_name for a in overview.active] == ["User Administrator"]


async def test_extending_an_approval_role_activated_outside_pimbot_is_refused(
    services: Services, tenant: SandboxTenant
) -> None:
    """An extension of a role that needs approval is a request about pimbot's own
    activation record; one made outside pimbot has none: refused, saying why."""
    app = tenant.tokens.issue("application", tenant.seed.service_principal_id, tenant.client_id)
    body = {
        "action": "adminAssign",
        "principalId": ALINE.id,
        "roleDefinitionId": GLOBAL_ADMIN,
        "directoryScopeId": "/",
        "justification": "approved earlier",
        "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": "PT1H"}},
    }
    tenant.submit(body, app[1])
    before = tenant.live_assignment(ALINE.id, GLOBAL_ADMIN)
    assert before is not None

    with pytest.raises(PolicyViolation, match="needs approval") as refused:
        await services.pimbot.handle(slack("U_ALINE"), Extend("global-admin", timedelta(hours=1)))

    assert "activated outside pimbot" in refused.value.user_message
    assert tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is before


async def test_an_extension_interrupted_by_a_restart_fails_and_leaves_its_activation(
    services: Services, tenant: SandboxTenant
) -> None:
    """Graph shows the role active (the activation it extends): the extension request must
    not pose as a second activation record; it fails, the activation record stays."""
    outcome = await services.pimbot.handle(
        slack("U_ALINE"), Activate("user-admin", timedelta(hours=1), TICKET, WHY)
    )
    assert outcome.record is not None and tenant.live_assignment(ALINE.id, USER_ADMIN)
    extension = outcome.record.with_changes(
        id="R-EXTCRASH",
        state=RequestState.ACTIVATING,
        graph_request_id=None,
        extends=outcome.record.id,
        extends_end=outcome.record.end,
    )
    services.store.add_request(extension)

    assert await recover_activating(services.deps, services.reminders) == 1

    failed = services.store.get_request("R-EXTCRASH")
    assert failed is not None and failed.state is RequestState.FAILED
    assert failed.error is not None and "restarted while extending" in failed.error
    kept = services.store.get_request(outcome.record.id)
    assert kept is not None and kept.state is RequestState.ACTIVE


async def test_a_second_activation_while_one_is_in_flight_is_refused_by_the_store(
    services: Services, tenant: SandboxTenant
) -> None:
    """Straight-to-Graph activations read no open requests first: the store's unique
    index (one open request per person and target) refuses the second, which is named,
    and Graph is not asked."""
    first = await services.pimbot.handle(
        slack("U_ALINE"), Activate("user-admin", timedelta(hours=1), TICKET, WHY)
    )
    assert first.record is not None
    in_flight = first.record.with_changes(id="REQINFLIGHT", state=RequestState.ACTIVATING)
    services.store.add_request(in_flight)  # as another replica's activation, mid-Graph
    before = writes(tenant)
    with pytest.raises(AlreadyRequested) as err:
        await services.pimbot.handle(
            slack("U_ALINE"), Activate("user-admin", timedelta(hours=1), TICKET, WHY)
        )
    assert "`REQINFLIGHT` is being handled" in err.value.user_message
    assert not err.value.cancellable
    assert writes(tenant) == before


class CountingLeases:
    """A LeaseStore (bot/service/leases.py) that only records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def hold(self, request_id: str, holder: str, until: object) -> None:
        self.calls.append(("hold", request_id))

    def renew(self, request_ids: object, holder: str, until: object) -> None:
        self.calls.append(("renew", ""))

    def release(self, request_id: str, holder: str) -> None:
        self.calls.append(("release", request_id))

    def lapsed(self, now: object) -> list[str]:
        return []

    def leased(self) -> set[str]:
        return set()

    def take(self, request_id: str, holder: str, now: object, until: object) -> bool:
        return False


async def test_an_activation_writes_its_lease_once_and_releases_it(
    services: Services, clock: FakeClock
) -> None:
    """Replicas: a request sent straight to Graph is leased from its insert to its end,
    one lease write and one release (not a second hold for the Graph step)."""
    store = CountingLeases()
    services.service.leases = Leases(store, clock, "replica-a")
    outcome = await services.pimbot.handle(
        slack("U_ALINE"), Activate("user-admin", timedelta(hours=1), TICKET, WHY)
    )
    assert outcome.kind is OutcomeKind.ACTIVATED and outcome.record is not None
    assert store.calls == [("hold", outcome.record.id), ("release", outcome.record.id)]
