"""A sign-in in progress survives a restart: the flow is sealed in the database and the
next process polls for it again; the device code never sits there in the clear."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from bot.domain.people import slack
from bot.graph import GraphPim
from bot.service.identity import IdentityResolver
from bot.service.signins import LoginResult
from bot.settings import Settings
from bot.signin.crypto import cipher_from_settings
from bot.signin.pending import PendingFlows
from bot.store import SqlStore
from bot.store.pending_logins import SqlPendingLogins
from tests.support.cast import ALINE
from tests.support.clock import FakeClock
from tests.support.signin import Browser, SignIn, build_signin
from tests.support.slack_ports import FakeDirectory

pytestmark = pytest.mark.slow  # its tests take over ~0.5 s each (see pyproject.toml)


def _restarted(settings: Settings, store: SqlStore, clock: FakeClock, graph: GraphPim) -> SignIn:
    resolver = IdentityResolver(graph, store, FakeDirectory(), settings.policy(), clock)
    return build_signin(settings, store, resolver, clock)


async def test_a_sign_in_in_progress_is_polled_again_after_a_restart(
    signin: SignIn,
    browser: Browser,
    settings: Settings,
    store: SqlStore,
    clock: FakeClock,
    app_graph: GraphPim,
) -> None:
    prompt = await signin.login.start(slack("U_ALINE"))
    await signin.aclose()  # the process stops while Aline is still typing her code

    again = _restarted(settings, store, clock, app_graph)
    try:
        assert await again.login.resume() == 1
        assert again.login.state(slack("U_ALINE")).pending
        await browser.sign_in(prompt.user_code, ALINE.upn)
        outcome = await again.login.wait(slack("U_ALINE"))
        finished = await again.finished()
    finally:
        await again.aclose()

    assert outcome is not None and outcome.result is LoginResult.LINKED
    assert again.login.state(slack("U_ALINE")).linked
    assert [o.result for o in finished] == [LoginResult.LINKED]  # told once
    with store.engine.connect() as conn:  # done: nothing left to resume
        assert conn.execute(sa.text("SELECT count(*) FROM pending_logins")).scalar() == 0


async def test_the_stored_flow_is_sealed(signin: SignIn, store: SqlStore) -> None:
    prompt = await signin.login.start(slack("U_ALINE"))

    with store.engine.connect() as conn:
        (sealed,) = conn.execute(sa.text("SELECT sealed_flow FROM pending_logins")).one()
    assert prompt.user_code.encode() not in bytes(sealed)
    assert b"device_code" not in bytes(sealed)


async def test_expired_or_cancelled_sign_ins_are_not_resumed(
    signin: SignIn,
    settings: Settings,
    store: SqlStore,
) -> None:
    prompt = await signin.login.start(slack("U_ALINE"))
    await signin.login.start(slack("U_ADMIN"))
    signin.login.logout(slack("U_ADMIN"))  # cancelled on purpose: forgotten at once
    await signin.aclose()
    flows = PendingFlows(SqlPendingLogins(store.engine), cipher_from_settings(settings))
    assert [f.person for f in flows.waiting(time.time())] == [slack("U_ALINE")]

    later = prompt.expires_at.timestamp() + 1  # Aline's code has expired meanwhile
    assert flows.waiting(later) == []
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM pending_logins")).scalar() == 0
