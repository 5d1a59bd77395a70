"""`/pim login` by device code against the sandbox over HTTPS: linking, refusing a
mismatched account, expiry, logout and link state."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.domain.audit import AuditKind
from bot.errors import UserNotMapped
from bot.signin.models import LoginResult
from bot.signin.wiring import SignIn
from bot.simulators.sandbox import SandboxServer
from bot.store import SqlStore
from tests.support.cast import ALEX, ALINE
from tests.support.clock import FakeClock
from tests.support.signin import Browser, Outcomes, log_in

pytestmark = pytest.mark.slow  # its tests take over ~0.5 s each (see pyproject.toml)


async def test_login_links_the_slack_user_and_confirms_with_the_entra_display_name(
    signin: SignIn, browser: Browser, outcomes: Outcomes
) -> None:
    prompt = await signin.login.start_login("U_ALINE")
    assert prompt.verification_uri.endswith("/sandbox/device")
    assert prompt.user_code in prompt.message and not prompt.step_up
    assert signin.login.link_state("U_ALINE").pending

    await browser.sign_in(prompt.user_code, ALINE.upn)
    outcome = await signin.login.wait("U_ALINE")

    assert outcome is not None and outcome.result is LoginResult.LINKED
    assert outcome.display_name == "Aline Dupuy"
    assert "Aline Dupuy" in outcome.message
    assert outcomes.seen == [outcome]  # the Slack layer is told, to DM the user
    state = signin.login.link_state("U_ALINE")
    assert state.linked and not state.pending
    assert (state.entra_user_id, state.user_principal_name) == (ALINE.id, ALINE.upn)


async def test_signing_in_as_someone_else_is_refused_and_audited(
    signin: SignIn, browser: Browser, store: SqlStore, outcomes: Outcomes
) -> None:
    outcome = await log_in(signin, browser, "U_ALINE", ALEX.upn)

    assert outcome.result is LoginResult.MISMATCH
    assert ALEX.upn in outcome.message and ALINE.upn in outcome.message
    assert not signin.login.link_state("U_ALINE").linked  # nothing stored
    refused = [e for e in store.audit_events() if e.kind is AuditKind.REFUSED]
    assert len(refused) == 1 and refused[0].slack_user_id == "U_ALINE"
    assert refused[0].detail is not None and ALEX.upn in refused[0].detail
    assert outcomes.seen == [outcome]


async def test_a_code_nobody_uses_expires(
    signin: SignIn, server: SandboxServer, sandbox_clock: FakeClock
) -> None:
    await signin.login.start_login("U_ALINE")
    sandbox_clock.advance(timedelta(minutes=16))  # Entra's device codes last 15 minutes

    outcome = await signin.login.wait("U_ALINE")

    assert outcome is not None and outcome.result is LoginResult.EXPIRED
    assert "/pim login" in outcome.message
    assert not signin.login.link_state("U_ALINE").linked


async def test_a_new_login_replaces_a_pending_one(
    signin: SignIn, browser: Browser, outcomes: Outcomes
) -> None:
    first = await signin.login.start_login("U_ALINE")
    second = await signin.login.start_login("U_ALINE")
    assert first.user_code != second.user_code

    await browser.sign_in(second.user_code, ALINE.upn)
    outcome = await signin.login.wait("U_ALINE")

    assert outcome is not None and outcome.result is LoginResult.LINKED
    assert [o.result for o in outcomes.seen] == [LoginResult.LINKED]  # no DM for the first


async def test_logout_forgets_the_tokens(signin: SignIn, browser: Browser) -> None:
    await log_in(signin, browser, "U_ALINE", ALINE.upn)

    assert signin.login.logout("U_ALINE") is True
    assert not signin.login.link_state("U_ALINE").linked
    assert signin.login.logout("U_ALINE") is False


async def test_an_unmapped_slack_user_is_told_before_any_sign_in(signin: SignIn) -> None:
    with pytest.raises(UserNotMapped):
        await signin.login.start_login("U_NOBODY")
    assert not signin.login.link_state("U_NOBODY").pending


async def test_the_bot_declares_it_handles_claims_challenges(
    signin: SignIn, browser: Browser, server: SandboxServer
) -> None:
    await log_in(signin, browser, "U_ALINE", ALINE.upn)

    (start,) = [c for c in server.faults.find("POST") if c.path.endswith("/devicecode")]
    assert json.loads(start.request_body["claims"]) == {
        "access_token": {"xms_cc": {"values": ["cp1"]}}  # so Graph sends claims challenges
    }
