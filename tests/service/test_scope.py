"""Scope in the use cases: what is activated, ended, extended and reconciled is the
assignment at the request's scope, not the same role elsewhere."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.domain.command_types import Activate, Deactivate, DeactivateRequest
from bot.domain.people import slack
from bot.domain.requests import ActivationRecord, RequestState
from bot.domain.targets import Scope
from bot.errors import InputError
from bot.service.recovery import recover_activating
from bot.simulators.sandbox import SandboxTenant
from bot.wiring import Services
from tests.support.cast import TICKET, USER_ADMIN, WHY
from tests.support.clock import FakeClock

pytestmark = pytest.mark.slow  # its tests take over ~0.5 s each (see pyproject.toml)

ALEX = "5d8a3f2e-6c1b-4e7a-9b0d-2f4c6e8a1b02"
UNIT = "0b7c3a52-7f1e-4c4b-9a57-5b8f0d2e6a11"
SEATTLE = f"/administrativeUnits/{UNIT}"


@pytest.fixture
def over_seattle(tenant: SandboxTenant) -> SandboxTenant:
    """Alex is eligible for User Administrator over Seattle Branch only."""
    tenant.add_administrative_unit("Seattle Branch", UNIT)
    tenant.add_eligibility(ALEX, USER_ADMIN, SEATTLE)
    return tenant


async def activate_over_seattle(services: Services) -> ActivationRecord:
    outcome = await services.pimbot.handle(
        slack("U_ALEX"), Activate("user-admin", timedelta(hours=1), TICKET, WHY)
    )
    assert outcome.record is not None and outcome.target.scope == Scope(SEATTLE)
    return outcome.record


def tenant_wide_assignment(tenant: SandboxTenant) -> None:
    """The same role, assigned to Alex tenant-wide outside pimbot (say, in the portal)."""
    tenant.add_eligibility(ALEX, USER_ADMIN, "/")
    body = {
        "action": "selfActivate",
        "principalId": ALEX,
        "roleDefinitionId": USER_ADMIN,
        "directoryScopeId": "/",
        "justification": "outside pimbot",
        "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": "PT2H"}},
    }
    tenant.submit(body, tenant.tokens.issue("user", ALEX, tenant.client_id)[1])


async def test_the_request_stores_the_eligibility_scope_and_its_name(
    services: Services, over_seattle: SandboxTenant
) -> None:
    record = await activate_over_seattle(services)

    stored = services.store.get_request(record.id)
    assert stored is not None and stored.state is RequestState.ACTIVE
    assert (stored.scope.id, stored.scope.display_name) == (SEATTLE, "Seattle Branch")
    assert over_seattle.live_assignment(ALEX, USER_ADMIN, "/") is None


async def test_a_reminders_deactivate_ends_the_requests_scope_only(
    services: Services, over_seattle: SandboxTenant, clock: FakeClock
) -> None:
    record = await activate_over_seattle(services)
    tenant_wide_assignment(over_seattle)

    with pytest.raises(InputError, match="2 scopes"):  # by name alone: which one?
        await services.pimbot.handle(slack("U_ALEX"), Deactivate("user-admin"))
    clock.advance(timedelta(minutes=5))  # Entra refuses a deactivation within 5 minutes
    await services.pimbot.handle(slack("U_ALEX"), DeactivateRequest(record.id))  # its scope

    assert over_seattle.live_assignment(ALEX, USER_ADMIN, SEATTLE) is None
    assert over_seattle.live_assignment(ALEX, USER_ADMIN, "/") is not None
    stored = services.store.get_request(record.id)
    assert stored is not None and stored.state is RequestState.ENDED


async def test_reconciliation_ends_a_record_whose_scoped_assignment_is_gone(
    services: Services, over_seattle: SandboxTenant
) -> None:
    record = await activate_over_seattle(services)
    tenant_wide_assignment(over_seattle)
    live = over_seattle.live_assignment(ALEX, USER_ADMIN, SEATTLE)
    assert live is not None
    live.ended = True  # removed in the portal; the tenant-wide one must not mask it

    assert await services.reminders.reconcile() == 1

    stored = services.store.get_request(record.id)
    assert stored is not None and stored.state is RequestState.ENDED


async def test_recovery_after_a_crash_looks_for_the_assignment_at_the_requests_scope(
    services: Services, over_seattle: SandboxTenant
) -> None:
    record = await activate_over_seattle(services)
    tenant_wide_assignment(over_seattle)
    live = over_seattle.live_assignment(ALEX, USER_ADMIN, SEATTLE)
    assert live is not None
    live.ended = True  # the unit's activation never happened, as far as Graph knows
    # Claimed, then the process died before Graph answered: no Graph request id yet.
    interrupted = replace(
        record, id="R-CRASHED1", state=RequestState.ACTIVATING, graph_request_id=None
    )
    services.store.add_request(interrupted)

    assert await recover_activating(services.deps, services.reminders) == 1

    stored = services.store.get_request(interrupted.id)
    assert stored is not None and stored.state is RequestState.FAILED
