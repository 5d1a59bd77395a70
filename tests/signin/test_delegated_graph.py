"""Graph as the signed-in user: self-activation recorded as the user, silent refresh, and
SignInRequired (with the user's request kept) once the refresh token is gone."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.domain.models import ActivationSpec, Ticket
from bot.domain.people import slack
from bot.domain.requests import ActivationRecord, RequestState
from bot.domain.targets import Role, Scope, Target, TargetKind
from bot.graph import GraphPim
from bot.service.signins import SignInRequired
from bot.simulators.sandbox import SandboxServer
from bot.store import SqlStore
from tests.support.cast import ALINE, USER_ADMIN
from tests.support.clock import FakeClock
from tests.support.signin import Browser, SignIn, log_in

pytestmark = pytest.mark.slow  # its tests take over ~0.5 s each (see pyproject.toml)

SPEC = ActivationSpec(
    ALINE.id,
    Target(TargetKind.DIRECTORY_ROLE, Role(USER_ADMIN, USER_ADMIN), Scope("/")),
    timedelta(hours=2),
    "Reset a locked-out user",
)


async def test_self_activation_is_recorded_as_the_user(
    signin: SignIn, browser: Browser, server: SandboxServer
) -> None:
    await log_in(signin, browser, "U_ALINE", ALINE.upn)

    async with signin.acting("U_ALINE") as graph:
        assert graph.identity == "user"
        request = await graph.activate(SPEC)
        active = await graph.list_active(ALINE.id)

    assert request.action == "selfActivate" and request.status == "Provisioned"
    assert [(a.role_id, a.end is not None) for a in active] == [(USER_ADMIN, True)]
    recorded = server.tenant.request(request.id)
    assert recorded.created_by == ("user", ALINE.id)  # created by Aline's own token
    (instance,) = [a for a in server.tenant.live_assignments() if a.id == request.id]
    assert (instance.principal_id, instance.assignment_type) == (ALINE.id, "Activated")


async def test_tokens_refresh_silently_when_the_access_token_expires(
    signin: SignIn, browser: Browser, sandbox_clock: FakeClock
) -> None:
    await log_in(signin, browser, "U_ALINE", ALINE.upn)
    sandbox_clock.advance(timedelta(hours=2))  # the access token is dead, the refresh token not

    async with signin.acting("U_ALINE") as graph:
        assert (await graph.activate(SPEC)).status == "Provisioned"
    assert signin.login.state(slack("U_ALINE")).linked


async def _activate(graph: GraphPim) -> object:
    return await graph.activate(SPEC)


@pytest.mark.parametrize("how", ["expired", "revoked"])
async def test_a_dead_refresh_token_asks_the_user_to_log_in_again_and_keeps_the_request(
    how: str,
    signin: SignIn,
    browser: Browser,
    store: SqlStore,
    server: SandboxServer,
    sandbox_clock: FakeClock,
    clock: FakeClock,
) -> None:
    await log_in(signin, browser, "U_ALINE", ALINE.upn)
    record = ActivationRecord(
        id="R-KEEPME01",
        requester=slack("U_ALINE"),
        principal_id=ALINE.id,
        role_id=USER_ADMIN,
        role_name="User Administrator",
        target_kind=TargetKind.DIRECTORY_ROLE,
        scope=Scope("/"),
        duration=SPEC.duration,
        justification=SPEC.justification,
        ticket=Ticket("CONTOSO:Security-012345", "CONTOSO"),
        state=RequestState.REQUESTED,
        created_at=clock.now(),
        updated_at=clock.now(),
    )
    store.add_request(record)
    if how == "expired":
        sandbox_clock.advance(timedelta(days=91))  # unused for longer than Entra allows
        server.tenant.reset()  # eligibilities restart at the new time
    else:
        server.tenant.refresh_tokens.revoke_user(ALINE.id)
        server.tenant.tokens.revoke_user(ALINE.id)

    with pytest.raises(SignInRequired) as raised:
        await signin.run("U_ALINE", _activate)

    assert "/pim login" in raised.value.user_message
    assert "kept" in raised.value.user_message
    assert store.get_request("R-KEEPME01") == record  # the request survives, untouched
    assert not signin.login.state(slack("U_ALINE")).linked  # App Home: not signed in
    assert not server.tenant.requests  # nothing reached PIM

    await log_in(signin, browser, "U_ALINE", ALINE.upn)  # after /pim login, resume it
    async with signin.acting("U_ALINE") as graph:
        assert (await graph.activate(SPEC)).status == "Provisioned"


async def test_a_user_who_never_signed_in_gets_sign_in_required(signin: SignIn) -> None:
    with pytest.raises(SignInRequired):
        async with signin.acting("U_ALINE") as graph:
            await graph.activate(SPEC)


async def test_concurrent_refreshes_do_not_spend_the_same_refresh_token(
    signin: SignIn, browser: Browser, sandbox_clock: FakeClock
) -> None:
    await log_in(signin, browser, "U_ALINE", ALINE.upn)
    sandbox_clock.advance(timedelta(hours=2))  # every session must refresh

    async def overview() -> int:
        async with signin.acting("U_ALINE") as graph:
            return len(await graph.list_eligibilities(ALINE.id))

    counts = await asyncio.gather(*(overview() for _ in range(4)))

    assert all(count > 0 for count in counts)
    assert signin.login.state(slack("U_ALINE")).linked  # nobody was logged out by a race
