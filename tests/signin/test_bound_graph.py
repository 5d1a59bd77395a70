"""BoundGraph: the PimGraph port, every call as one signed-in user."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.models import ActivationSpec
from bot.signin.errors import SignInRequired
from bot.signin.wiring import SignIn
from bot.simulators.sandbox import SandboxServer
from tests.support.cast import ALINE, USER_ADMIN
from tests.support.signin import Browser, log_in


@pytest.mark.slow
async def test_the_port_round_trip_runs_as_the_user(
    signin: SignIn, browser: Browser, server: SandboxServer
) -> None:
    await log_in(signin, browser, "U_ALINE", ALINE.upn)
    graph = signin.graphs.bound("U_ALINE")

    eligible = {e.role_id for e in await graph.list_eligibilities(ALINE.id)}
    request = await graph.activate(
        ActivationSpec(ALINE.id, USER_ADMIN, timedelta(hours=1), "Unlock a user account")
    )
    active = [a.role_id for a in await graph.list_active(ALINE.id)]
    ended = await graph.deactivate(ALINE.id, USER_ADMIN, "Done")

    assert USER_ADMIN in eligible and USER_ADMIN in active
    assert (request.action, ended.action) == ("selfActivate", "selfDeactivate")
    assert {r.created_by for r in server.tenant.requests.values()} == {("user", ALINE.id)}
    assert (await graph.get_user(ALINE.upn)).id == ALINE.id
    await graph.aclose()


async def test_a_user_who_is_not_signed_in_gets_sign_in_required(signin: SignIn) -> None:
    with pytest.raises(SignInRequired):
        await signin.graphs.bound("U_ALINE").list_active(ALINE.id)
