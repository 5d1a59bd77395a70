"""The local workspace page in headless Chromium, driving the real bot (`pimbot run`'s
stack): what Aline and the approver see and click, checked against the sandbox tenant.
Screenshots land in test-artifacts/. The tests run in order and share one stack."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.browser import screenshot
from tests.support.cast import ALINE, GLOBAL_ADMIN, HELPDESK_ADMIN, USER_ADMIN
from tests.support.real_bot import RealBot

pytestmark = pytest.mark.slow  # drives Chromium

CARD = "/pim activate user-admin 5h CONTOSO:Security-012345 invalidate refresh tokens"
TIMEOUT = 15_000  # ms: the bot answers after its ack, through Graph


def _expect() -> Any:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT)
    return expect


def _say(page: Any, text: str) -> None:
    page.locator("#message-box").fill(text)
    page.keyboard.press("Enter")


def _open_as(page: Any, bot: RealBot, user: str, channel: str) -> None:
    page.goto(f"{bot.url}/?user={user}")
    page.get_by_text(channel, exact=True).click()


def _switch_to(page: Any, user: str, name: str) -> None:
    page.locator("#user-select").select_option(user)
    _expect()(page.locator("#me-name")).to_have_text(name)


def test_aline_types_the_cards_command_and_sees_the_activation(
    real_bot: RealBot, page: Any
) -> None:
    expect = _expect()
    _open_as(page, real_bot, "U_ALINE", "general")
    _say(page, CARD)
    reply = page.locator(".msg.ephemeral", has_text="is active until")
    expect(reply).to_contain_text("User Administrator")
    expect(reply).to_contain_text("CONTOSO:Security-012345")
    expect(reply).to_contain_text("Only visible to you")
    screenshot(page, "real-bot-activation.png")

    live = real_bot.tenant.live_assignment(ALINE.id, USER_ADMIN)
    assert live is not None, "the sandbox tenant has no User Administrator assignment"
    assert abs((live.end - live.start).total_seconds() - 5 * 3600) < 60


def test_an_approval_required_role_is_approved_in_the_channel_and_aline_hears(
    real_bot: RealBot, page: Any
) -> None:
    expect = _expect()
    _open_as(page, real_bot, "U_ALINE", "general")
    _say(page, "/pim activate global-admin 2h CONTOSO:Security-012346 audit break-glass accounts")
    expect(page.locator(".msg.ephemeral", has_text="needs approval")).to_be_visible()
    assert real_bot.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is None

    _switch_to(page, "U_ADMIN", "MOD Administrator")
    page.get_by_text("pim-approvals", exact=True).click()
    card = page.locator(".msg", has_text="audit break-glass accounts")
    expect(card.get_by_role("button", name="Approve")).to_be_visible()
    screenshot(page, "real-bot-approval-card.png")
    card.get_by_role("button", name="Approve").click()
    dialog = page.get_by_role("alertdialog")  # the card asks before approving
    expect(dialog).to_be_visible()
    screenshot(page, "real-bot-approve-confirm.png")
    dialog.locator("[data-confirm]").click()
    expect(dialog).to_be_hidden()
    # The repository's pimbot.yml: Global Administrator needs a second approver, Megan.
    expect(card).to_contain_text("1 of 2 approvals: @MOD Administrator")
    assert real_bot.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is None

    _switch_to(page, "U_MEGAN", "Megan Bowen")
    page.get_by_text("pim-approvals", exact=True).click()
    card = page.locator(".msg", has_text="audit break-glass accounts")
    card.get_by_role("button", name="Approve").click()
    dialog = page.get_by_role("alertdialog")
    dialog.locator("[data-confirm]").click()
    expect(dialog).to_be_hidden()
    expect(card).to_contain_text(re.compile(r"Approved.*by @Megan Bowen"))
    expect(card.get_by_role("button", name="Approve")).to_have_count(0)
    screenshot(page, "real-bot-approved.png")

    _switch_to(page, "U_ALINE", "Aline Dupuy")
    page.locator("#app-list li").click()  # the DM with pimbot
    outcome = page.locator(".msg", has_text="was approved")
    expect(outcome).to_contain_text("Global Administrator")
    screenshot(page, "real-bot-approval-outcome.png")
    assert real_bot.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is not None


def test_fast_forward_brings_the_reminder_then_the_ended_notice(
    real_bot: RealBot, page: Any
) -> None:
    expect = _expect()
    _open_as(page, real_bot, "U_ALINE", "general")
    _say(page, "/pim activate helpdesk-admin 30m CONTOSO:Security-012347 reset a user's MFA")
    expect(page.locator(".msg.ephemeral", has_text="Helpdesk Administrator")).to_contain_text(
        "is active until"
    )
    page.locator("#app-list li").click()
    ff = page.locator("#fast-forward")
    ff.get_by_role("button", name="+15 min").click()  # to 15 min before the end
    expect(page.locator("#clock")).to_contain_text("(+15 min)")
    reminder = page.locator(".msg", has_text="Helpdesk Administrator ends in")
    expect(reminder).to_be_visible()
    expect(reminder.get_by_role("button", name="Extend 1h")).to_be_visible()
    screenshot(page, "real-bot-reminder.png")

    ff.get_by_role("button", name="+1 h").click()
    expect(page.locator("#clock")).to_contain_text("(+1 h 15 min)")
    expect(page.locator(".msg", has_text="Helpdesk Administrator has ended")).to_be_visible()
    screenshot(page, "real-bot-ended.png")
    assert real_bot.tenant.live_assignment(ALINE.id, HELPDESK_ADMIN) is None
