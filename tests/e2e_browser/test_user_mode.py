"""Signed-in-user mode (`graph: identity: user`) in the local workspace, in headless
Chromium: Aline asks for a role before signing in, follows the sign-in link pimbot DMs her
to the sandbox's device-code page (self-signed TLS), signs in as herself there, and her
kept request goes ahead as a true self-activation. Screenshots land in test-artifacts/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.browser import screenshot
from tests.support.cast import ALINE, USER_ADMIN
from tests.support.real_bot import RealBot

pytestmark = pytest.mark.slow  # drives Chromium

ACTIVATE = "/pim activate user-admin 1h reset a locked-out account"
TIMEOUT = 15_000  # ms: the bot answers through Graph; the device code is polled every 1 s


def _expect() -> Any:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT)
    return expect


@pytest.fixture(scope="module")
def user_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealBot]:
    with RealBot(tmp_path_factory.mktemp("user-mode"), identity="user") as bot:
        # Aline holds User Administrator through a group, which a signed-in user without a
        # reader role cannot list (filterByCurrentUser returns nothing a group holds).
        bot.tenant.add_eligibility(ALINE.id, USER_ADMIN, "/")
        yield bot


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """The sandbox's sign-in page has a self-signed certificate, as `make run` serves it."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, ignore_https_errors=True)
    try:
        yield context
    finally:
        context.close()


def test_a_request_before_signing_in_goes_ahead_after_signing_in_on_the_sandbox_page(
    user_bot: RealBot, context: Any
) -> None:
    expect = _expect()
    page = context.new_page()
    page.goto(f"{user_bot.url}/?user=U_ALINE")
    page.get_by_text("general", exact=True).click()
    page.locator("#message-box").fill(ACTIVATE)
    page.keyboard.press("Enter")

    kept = page.locator(".msg.ephemeral", has_text="sign in")
    expect(kept).to_contain_text("You need to sign in to Microsoft Entra first")
    expect(kept).to_contain_text("your request is kept")
    expect(kept).to_contain_text("Only visible to you")
    screenshot(page, "user-mode-kept.png")
    assert not [r for r in user_bot.tenant.requests.values() if r.principal_id == ALINE.id]

    page.locator("#app-list li").click()  # the DM with pimbot
    prompt = page.locator(".msg", has_text="enter the code")
    expect(prompt).to_contain_text("Sign in to Microsoft Entra")
    expect(prompt).to_contain_text("pimbot never asks for your password")
    link = prompt.locator("a", has_text="/sandbox/device")
    expect(link).to_have_attribute("href", re.compile(r"^https://127\.0\.0\.1:\d+/sandbox/device$"))
    href = link.get_attribute("href")
    code = prompt.locator("code").inner_text().strip()
    assert code and code not in (href or "")
    screenshot(page, "user-mode-code.png")

    signin = context.new_page()
    signin.goto(href)
    expect(signin.get_by_role("heading", name="Sign in")).to_be_visible()
    signin.get_by_label("Code").fill(code)
    user = signin.get_by_label("User")
    user.select_option(ALINE.id)
    expect(user.locator("option:checked")).to_contain_text("Aline Dupuy")
    screenshot(signin, "user-mode-signin-page.png")
    signin.get_by_role("button", name="Sign in").click()
    expect(signin.locator(".ok")).to_contain_text("Signed in as Aline Dupuy")
    screenshot(signin, "user-mode-signed-in.png")
    signin.close()

    page.bring_to_front()
    signed_in = page.locator(".msg", has_text="You're signed in to Microsoft Entra as")
    expect(signed_in).to_contain_text("Aline Dupuy")
    active = page.locator(".msg", has_text="is active until")
    expect(active).to_contain_text("User Administrator")
    screenshot(page, "user-mode-active.png")

    requests = [r for r in user_bot.tenant.requests.values() if r.principal_id == ALINE.id]
    assert [(r.action, r.created_by) for r in requests] == [("selfActivate", ("user", ALINE.id))]
    live = user_bot.tenant.live_assignment(ALINE.id, USER_ADMIN)
    assert live is not None, "the sandbox tenant has no User Administrator assignment"
    assert abs((live.end - live.start).total_seconds() - 3600) < 60
