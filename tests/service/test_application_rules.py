"""Application mode sends adminAssign, which Entra checks against the *_Admin_Assignment
rules and which skips the EndUser rules' MFA, authentication context and approval
(https://learn.microsoft.com/en-us/graph/api/resources/unifiedrolemanagementpolicyrule).
pimbot honours the Admin rules, keeps the EndUser ones itself, and refuses by default a
role whose activation asks for MFA or an authentication context, unless pimbot.yml waives it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.domain.command_types import Activate
from bot.domain.people import slack
from bot.errors import PolicyViolation
from bot.settings import Settings
from bot.simulators.sandbox import SandboxServer, SandboxTenant
from bot.wiring import Services
from tests.support.cast import TICKET, USER_ADMIN, WHY
from tests.support.settings import make_settings

pytestmark = pytest.mark.slow  # its tests take over ~0.5 s each (see pyproject.toml)

ROLES = {
    "user-admin": {"role": "User Administrator"},
    "priv-admin": {"role": "Privileged Role Administrator"},
}
REQUESTS = "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests"


def policy(**extra: Any) -> dict[str, Any]:
    return {
        "ticket": {"system": "CONTOSO", "pattern": r"^CONTOSO:[A-Za-z]+-\d{6}$"},
        "channels": {"approvals": "C_PIM_APPROVALS"},
        "roles": ROLES,
        **extra,
    }


@pytest.fixture
def config() -> dict[str, Any]:
    return policy()


@pytest.fixture
def settings(sandbox: SandboxServer, tmp_path: Path, config: dict[str, Any]) -> Settings:
    return make_settings(tmp_path, sandbox=sandbox, policy=config)


def graph_writes(sandbox: SandboxServer) -> int:
    return len(sandbox.faults.find("POST", REQUESTS))


async def test_a_role_that_asks_for_an_authentication_context_is_refused(
    services: Services, sandbox: SandboxServer
) -> None:
    with pytest.raises(PolicyViolation) as refused:
        await services.pimbot.handle(
            slack("U_DIEGO"), Activate("priv-admin", timedelta(hours=1), TICKET, WHY)
        )

    message = refused.value.user_message
    assert "authentication context `c1`" in message
    assert "graph.identity: user" in message and "allow_without_mfa" in message
    assert graph_writes(sandbox) == 0


async def test_a_role_that_asks_for_mfa_on_activation_is_refused(
    services: Services, sandbox: SandboxServer, tenant: SandboxTenant
) -> None:
    settings = tenant.seed.settings
    saved = settings.get(USER_ADMIN, tenant.seed.default_settings)
    rules = (*saved.activation_rules, "MultiFactorAuthentication")
    settings[USER_ADMIN] = replace(saved, activation_rules=rules)

    with pytest.raises(PolicyViolation, match="multi-factor authentication on activation"):
        await services.pimbot.handle(
            slack("U_ALINE"), Activate("user-admin", timedelta(hours=1), TICKET, WHY)
        )
    assert graph_writes(sandbox) == 0


@pytest.mark.parametrize(
    "config",
    [
        policy(
            roles={
                **ROLES,
                "priv-admin": {**ROLES["priv-admin"], "application_mode": "allow_without_mfa"},
            }
        ),
        policy(graph={"application_mode": "allow_without_mfa"}),
    ],
    ids=["for-the-role", "for-every-role"],
)
async def test_pimbot_yml_can_waive_it(services: Services, sandbox: SandboxServer) -> None:
    outcome = await services.pimbot.handle(
        slack("U_DIEGO"), Activate("priv-admin", timedelta(hours=1), TICKET, WHY)
    )

    # The waiver lifts only what Entra would have asked: its approval rule still holds.
    assert outcome.record is not None and outcome.record.state.value == "pending_approval"
    assert graph_writes(sandbox) == 0


async def test_the_admin_assignment_maximum_caps_what_application_mode_asks_for(
    services: Services, sandbox: SandboxServer, tenant: SandboxTenant
) -> None:
    """Entra checks adminAssign against Expiration_Admin_Assignment: pimbot refuses first,
    with the limit, rather than letting Entra refuse it."""
    settings = tenant.seed.settings
    saved = settings.get(USER_ADMIN, tenant.seed.default_settings)
    settings[USER_ADMIN] = replace(
        saved, admin_max=timedelta(hours=2), admin_expiration_required=True
    )

    with pytest.raises(PolicyViolation, match="at most 2 hours"):
        await services.pimbot.handle(
            slack("U_ALINE"), Activate("user-admin", timedelta(hours=3), TICKET, WHY)
        )
    assert graph_writes(sandbox) == 0
    done = await services.pimbot.handle(
        slack("U_ALINE"), Activate("user-admin", timedelta(hours=2), TICKET, WHY)
    )
    assert done.record is not None and done.record.state.value == "active"
