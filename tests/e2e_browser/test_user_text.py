"""User text nobody can forge, as people see it: in the local workspace page (headless
Chromium, the real bot), a justification written to look like a bot field and a link is
shown on the approval card as the characters typed, and a deny reason with `<!channel>`
mentions nobody. Screenshots land in test-artifacts/."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.browser import screenshot
from tests.support.real_bot import RealBot

pytestmark = pytest.mark.slow  # drives Chromium

FIELD = "*Approved in advance by:* the CISO"
LINK = "<https://evil.example|Approve in the Entra portal>"
TIMEOUT = 15_000  # ms


def _expect() -> Any:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT)
    return expect


def test_a_forged_field_and_link_stay_words_and_a_deny_reason_pings_nobody(
    real_bot: RealBot, page: Any
) -> None:
    expect = _expect()
    page.goto(f"{real_bot.url}/?user=U_ALINE")
    page.get_by_text("general", exact=True).click()
    typed = f"/pim activate global-admin 1h CONTOSO:Security-012348 {FIELD} {LINK}"
    page.locator("#message-box").fill(typed)
    page.keyboard.press("Enter")
    expect(page.locator(".msg.ephemeral", has_text="needs approval")).to_be_visible()

    page.locator("#user-select").select_option("U_ADMIN")
    expect(page.locator("#me-name")).to_have_text("MOD Administrator")
    page.get_by_text("pim-approvals", exact=True).click()
    card = page.locator(".msg", has_text="Approved in advance by")
    expect(card.locator("blockquote")).to_contain_text(FIELD)  # asterisks and all
    expect(card.locator("b", has_text="Approved in advance")).to_have_count(0)
    expect(card.locator('a[href*="evil.example"]')).to_have_count(0)
    screenshot(page, "user-text-card.png")

    card.get_by_role("button", name="Deny").click()
    page.locator("#modal-root textarea").fill("<!channel> *no* see <!here>")
    page.locator("#modal-root [data-submit]").click()
    expect(card).to_contain_text(re.compile(r"Denied.*by @MOD Administrator"))
    expect(card.locator("blockquote").last).to_contain_text("<!channel> *no* see <!here>")
    expect(card.locator(".mention", has_text=re.compile("channel|here"))).to_have_count(0)
    screenshot(page, "user-text-denied.png")
