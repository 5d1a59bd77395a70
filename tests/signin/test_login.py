"""`/pim login` by device code against the sandbox over HTTPS: linking, refusing a
mismatched account, expiry, logout and link state."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.domain.audit import AuditKind
from bot.domain.people import slack
from bot.errors import UserNotMapped
from bot.service.signins import LoginResult
from bot.simulators.sandbox import SandboxServer
from bot.store import SqlStore
from tests.support.cast import ALEX, ALINE
from tests.support.clock import FakeClock
from tests.support.signin import Browser, SignIn, log_in

pytestmark = pytest.mark.slow  # its tests take over ~0.5 s each (see pyproject.toml)


async def test_login_links_the_slack_user_and_confirms_with_the_entra_display_name(
    signin: SignIn, browser: Browser
) -> None:
    prompt = await signin.login.start(slack("U_ALINE"))
    assert prompt.verification_uri.endswith("/sandbox/device")
    assert prompt.user_code in prompt.message and not prompt.step_up
    assert signin.login.state(slack("U_ALINE")).pending

    await browser.sign_in(prompt.user_code, ALINE.upn)
    outcome = await signin.login.wait(slack("U_ALINE"))

    assert outcome is not None and outcome.result is LoginResult.LINKED
    assert outcome.display_name == "Aline Dupuy"
    assert "Aline Dupuy" in outcome.message
    assert await signin.finished() == [outcome]  # the bot is told, to DM the user
    state = signin.login.state(slack("U_ALINE"))
    assert state.linked and not state.pending
    assert (state.entra_user_id, state.user_principal_name) == (ALINE.id, ALINE.upn)


async def test_signing_in_as_someone_else_is_refused_and_audited(
    signin: SignIn, browser: Browser, store: SqlStore
) -> None:
    outcome = await log_in(signin, browser, "U_ALINE", ALEX.upn)

    assert outcome.result is LoginResult.MISMATCH
    assert ALEX.upn in outcome.message and ALINE.upn in outcome.message
    assert not signin.login.state(slack("U_ALINE")).linked  # nothing stored
    refused = [e for e in store.audit_events() if e.kind is AuditKind.REFUSED]
    assert len(refused) == 1 and refused[0].person == slack("U_ALINE")
    assert refused[0].detail is not None and ALEX.upn in refused[0].detail
    assert await signin.finished() == [outcome]


async def test_a_code_nobody_uses_expires(
    signin: SignIn, server: SandboxServer, sandbox_clock: FakeClock
) -> None:
    await signin.login.start(slack("U_ALINE"))
    sandbox_clock.advance(timedelta(minutes=16))  # Entra's device codes last 15 minutes

    outcome = await signin.login.wait(slack("U_ALINE"))

    assert outcome is not None and outcome.result is LoginResult.EXPIRED
    assert "/pim login" in outcome.message
    assert not signin.login.state(slack("U_ALINE")).linked


async def test_a_new_login_replaces_a_pending_one(signin: SignIn, browser: Browser) -> None:
    first = await signin.login.start(slack("U_ALINE"))
    second = await signin.login.start(slack("U_ALINE"))
    assert first.user_code != second.user_code

    await browser.sign_in(second.user_code, ALINE.upn)
    outcome = await signin.login.wait(slack("U_ALINE"))

    assert outcome is not None and outcome.result is LoginResult.LINKED
    finished = await signin.finished()
    assert [o.result for o in finished] == [LoginResult.LINKED]  # no DM for the first


async def test_logout_forgets_the_tokens(signin: SignIn, browser: Browser) -> None:
    await log_in(signin, browser, "U_ALINE", ALINE.upn)

    assert signin.login.logout(slack("U_ALINE")) is True
    assert not signin.login.state(slack("U_ALINE")).linked
    assert signin.login.logout(slack("U_ALINE")) is False


async def test_an_unmapped_slack_user_is_told_before_any_sign_in(signin: SignIn) -> None:
    with pytest.raises(UserNotMapped):
        await signin.login.start(slack("U_NOBODY"))
    assert not signin.login.state(slack("U_NOBODY")).pending


async def test_the_bot_declares_it_handles_claims_challenges(
    signin: SignIn, browser: Browser, server: SandboxServer
) -> None:
    await log_in(signin, browser, "U_ALINE", ALINE.upn)

    (start,) = [c for c in server.faults.find("POST") if c.path.endswith("/devicecode")]
    assert json.loads(start.request_body["claims"]) == {
        "access_token": {"xms_cc": {"values": ["cp1"]}}  # so Graph sends claims challenges
    }


async def test_a_tenant_that_blocks_the_device_code_flow_gets_a_plain_reason(
    signin: SignIn, browser: Browser, server: SandboxServer
) -> None:
    """Conditional Access may block the device code flow (AADSTS53003 at redemption):
    `/pim login` says so and what to ask for, not "did not sign you in, try again"."""
    server.tenant.blocks_device_code = True

    outcome = await log_in(signin, browser, "U_ALINE", ALINE.upn)

    assert outcome.result is LoginResult.FAILED
    assert "Conditional Access" in outcome.message and "device code" in outcome.message
    assert "application mode" in outcome.message
    assert not signin.login.state(slack("U_ALINE")).linked
