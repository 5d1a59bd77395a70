"""Every approver source pimbot.yml and the PIM policy can name, each proven by a click
check: Slack user ids, a Slack user group, Entra users (id or UPN), Entra groups, and the
approvers of the role's PIM policy in Graph (mapped to Slack users by email)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.domain.command_types import Approve
from bot.domain.people import slack
from bot.errors import NotAuthorised
from bot.settings import ApproversConfig, PolicyFile, Settings
from bot.wiring import Services
from tests.support.cast import ANALYSTS_GROUP, MEGAN, PIM_APPROVERS_GROUP
from tests.support.clock import FakeClock
from tests.support.services import request_global_admin, wire
from tests.support.slack_ports import FakeDirectory, RecordingNotifier

pytestmark = pytest.mark.slow  # its tests take over ~0.5 s each (see pyproject.toml)


def with_approvers(settings: Settings, **approvers: Any) -> PolicyFile:
    policy = settings.policy()
    # Who may approve, one approval each (four eyes has its own tests).
    role = policy.roles["global-admin"].model_copy(
        update={"approvers": ApproversConfig(**approvers), "approvals_required": 1}
    )
    return policy.model_copy(update={"roles": {**policy.roles, "global-admin": role}})


@pytest.fixture
async def built(
    settings: Settings, clock: FakeClock, notifier: RecordingNotifier
) -> AsyncIterator[Callable[..., Services]]:
    made: list[Services] = []

    def build(directory: FakeDirectory | None = None, **approvers: Any) -> Services:
        services = wire(
            settings,
            clock,
            directory or FakeDirectory(),
            notifier,
            config=with_approvers(settings, **approvers),
        )
        made.append(services)
        return services

    yield build
    for services in made:
        await services.aclose()


async def _may(services: Services, request_id: str, user_id: str) -> bool:
    try:
        await services.pimbot.check_approver(slack(user_id), request_id)
    except NotAuthorised:
        return False
    return True


@pytest.mark.parametrize(
    "approvers",
    [
        {"slack_users": ["U_MEGAN"]},
        {"slack_usergroups": ["S_APPROVERS"]},
        {"entra_users": [MEGAN.id]},
        {"entra_users": [MEGAN.upn]},
        {"entra_groups": [PIM_APPROVERS_GROUP]},
    ],
    ids=["slack-user", "slack-usergroup", "entra-user-id", "entra-user-upn", "entra-group"],
)
async def test_each_pimbot_yml_source_lets_its_member_approve_and_no_one_else(
    built: Callable[..., Services], approvers: dict[str, list[str]]
) -> None:
    services = built(FakeDirectory({"S_APPROVERS": frozenset({"U_MEGAN"})}), **approvers)
    pending = await request_global_admin(services)
    assert pending.record is not None

    assert await _may(services, pending.record.id, "U_MEGAN")
    assert not await _may(services, pending.record.id, "U_ALEX")
    assert not await _may(services, pending.record.id, "U_STRANGER")  # not in the tenant

    decision = await services.pimbot.handle(slack("U_MEGAN"), Approve(pending.record.id))
    assert decision.record.decided_by == slack("U_MEGAN") and decision.error is None


async def test_the_pim_policy_approvers_from_graph_apply_without_any_pimbot_yml_entry(
    built: Callable[..., Services],
) -> None:
    services = built()  # Global Administrator's PIM policy names the MOD Administrator
    pending = await request_global_admin(services)
    assert pending.record is not None

    assert await _may(services, pending.record.id, "U_ADMIN")
    assert not await _may(services, pending.record.id, "U_MEGAN")


async def test_an_entra_group_without_the_clicker_refuses_them(
    built: Callable[..., Services],
) -> None:
    services = built(entra_groups=[ANALYSTS_GROUP])
    pending = await request_global_admin(services)
    assert pending.record is not None

    assert not await _may(services, pending.record.id, "U_MEGAN")


async def test_a_user_group_lookup_names_only_its_members(built: Callable[..., Services]) -> None:
    services = built(
        FakeDirectory({"S_APPROVERS": frozenset({"U_ALEX"})}), slack_usergroups=["S_APPROVERS"]
    )
    pending = await request_global_admin(services)
    assert pending.record is not None

    assert await _may(services, pending.record.id, "U_ALEX")
    assert not await _may(services, pending.record.id, "U_MEGAN")
