"""The user-mode PimGraph: one client whose every call carries the acting user's token."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.domain.models import ActivationSpec
from bot.domain.targets import Role, Scope, Target, TargetKind
from bot.service.signins import SignInRequired
from bot.signin.acting import NobodyActing
from bot.simulators.sandbox import SandboxServer
from tests.support.cast import ALINE, DIEGO, USER_ADMIN
from tests.support.clock import FakeClock
from tests.support.signin import Browser, SignIn, log_in

pytestmark = pytest.mark.slow  # its tests take over ~0.5 s each (see pyproject.toml)

SECURITY_READER = "5d6b6bb7-de71-4623-b4af-96380a352509"
TENANT_WIDE = Target(TargetKind.DIRECTORY_ROLE, Role(USER_ADMIN, USER_ADMIN), Scope("/"))


async def test_the_port_round_trip_runs_as_the_user(
    signin: SignIn, browser: Browser, server: SandboxServer, sandbox_clock: FakeClock
) -> None:
    # Held directly: a signed-in user without a reader role sees nothing a group holds.
    server.tenant.add_eligibility(ALINE.id, USER_ADMIN, "/")
    await log_in(signin, browser, "U_ALINE", ALINE.upn)
    async with signin.acting("U_ALINE") as graph:
        eligible = {e.role_id for e in await graph.list_eligibilities(ALINE.id)}
        request = await graph.activate(
            ActivationSpec(ALINE.id, TENANT_WIDE, timedelta(hours=1), "Unlock a user account")
        )
        active = [a.role_id for a in await graph.list_active(ALINE.id)]
        sandbox_clock.advance(timedelta(minutes=5))  # Entra: no deactivation sooner
        ended = await graph.deactivate(ALINE.id, TENANT_WIDE, "Done")
        found = await graph.get_user(ALINE.upn)

    assert USER_ADMIN in eligible and USER_ADMIN in active
    assert (request.action, ended.action) == ("selfActivate", "selfDeactivate")
    assert {r.created_by for r in server.tenant.requests.values()} == {("user", ALINE.id)}
    assert found.id == ALINE.id


async def test_a_user_who_is_not_signed_in_gets_sign_in_required(signin: SignIn) -> None:
    with pytest.raises(SignInRequired):
        async with signin.acting("U_ALINE") as graph:
            await graph.list_active(ALINE.id)


async def test_a_call_with_nobody_acting_is_refused_before_it_leaves(signin: SignIn) -> None:
    with pytest.raises(NobodyActing):
        await signin.parts.graph.list_active(ALINE.id)


async def test_two_users_acting_at_once_each_carry_their_own_token(
    signin: SignIn, browser: Browser, server: SandboxServer
) -> None:
    await log_in(signin, browser, "U_ALINE", ALINE.upn)
    await log_in(signin, browser, "U_DIEGO", DIEGO.upn)

    async def activate(who: str, principal: str, role: str) -> str:
        target = Target(TargetKind.DIRECTORY_ROLE, Role(role, role), Scope("/"))
        spec = ActivationSpec(principal, target, timedelta(hours=1), "Concurrent activation")
        async with signin.acting(who) as graph:
            return (await graph.activate(spec)).id

    ids = await asyncio.gather(
        activate("U_ALINE", ALINE.id, USER_ADMIN), activate("U_DIEGO", DIEGO.id, SECURITY_READER)
    )

    made_by = [server.tenant.request(i).created_by for i in ids]
    assert made_by == [("user", ALINE.id), ("user", DIEGO.id)]
