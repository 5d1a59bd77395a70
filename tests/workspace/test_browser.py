"""The page in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright),
against the tiny Bolt app: what a person sees and clicks, end to end."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.browser import chromium_page, requires_chromium, screenshot
from tests.support.workspace import Rig

pytestmark = [pytest.mark.slow, requires_chromium]  # drives Chromium


@pytest.fixture
def page() -> Iterator[Any]:
    with chromium_page() as page:
        yield page


def test_a_person_runs_the_command_fills_the_modal_and_others_never_see_her_ephemerals(
    with_bolt: Rig,
    page: Any,
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{with_bolt.url}/?user=U_ALINE")
    page.get_by_text("general", exact=True).click()
    page.locator("#message-box").fill("/pim hello")
    page.keyboard.press("Enter")
    reply = page.locator(".msg.ephemeral", has_text="you said hello")
    expect(reply).to_be_visible()
    expect(reply).to_contain_text("Only visible to you")
    expect(page.locator("#app-list .badge")).to_have_text("1")  # the DM with the card

    page.locator("#app-list li").click()
    page.get_by_role("button", name="Open form").click()
    expect(page.get_by_role("alertdialog")).to_contain_text("Open the form now?")
    page.get_by_role("button", name="Open", exact=True).click()
    modal = page.get_by_role("dialog", name="Tell us more")
    expect(modal).to_be_visible()

    modal.get_by_label("Reason").fill("short")
    modal.get_by_label("Size").select_option("large")
    modal.get_by_role("button", name="Send").click()
    expect(modal).to_contain_text("Say a bit more, please.")
    expect(modal.get_by_label("Reason")).to_have_value("short")  # what she typed stays

    modal.get_by_label("Reason").fill("a long enough reason")
    modal.get_by_role("button", name="Send").click()
    expect(modal).to_be_hidden()
    expect(page.locator(".msg", has_text="Submitted (large): a long enough reason")).to_be_visible()
    screenshot(page, "workspace-aline.png")

    page.get_by_role("button", name="Home").click()
    expect(page.locator("#home")).to_contain_text("Your roles")

    page.locator("#user-select").select_option("U_ADMIN")
    expect(page.locator("#me-name")).to_have_text("MOD Administrator")
    page.get_by_text("general", exact=True).click()
    expect(page.locator("#messages")).to_contain_text("No messages yet.")
    expect(page.get_by_text("you said hello")).to_have_count(0)
    screenshot(page, "workspace-admin.png")

    page.get_by_role("button", name="+1 h").click()
    expect(page.locator("#clock")).to_contain_text("(+1 h)")
    assert with_bolt.forwarded == [3600.0]


def test_at_820_px_the_page_renders_as_slack_and_explains_a_restart(with_bolt: Rig) -> None:
    """The top bar fits 820 px; `*<@U…>*` is a bold mention and shortcodes are emoji, as
    Slack renders them; the rate-limit switch works; a restart is explained."""
    import httpx
    from playwright.sync_api import expect

    httpx.post(
        f"{with_bolt.url}/api/chat.postMessage",
        headers={"Authorization": "Bearer xoxb-local-workspace"},
        json={
            "channel": "U_ALINE",
            "text": "*<@U_ADMIN>* approved :white_check_mark: :checkered_flag:",
        },
    ).raise_for_status()
    with chromium_page(width=820) as page:
        page.goto(f"{with_bolt.url}/?user=U_ALINE")
        page.locator("#app-list li").click()
        message = page.locator(".msg", has_text="approved")
        expect(message.locator("b .mention")).to_have_text("@MOD Administrator")
        expect(message).to_contain_text("approved ✅ 🏁")
        page.locator("#user-select").select_option("U_ADMIN")  # the longest name + title
        expect(page.locator("#me-name")).to_have_text("MOD Administrator")
        overflow = page.evaluate(
            "() => { const bar = document.getElementById('topbar');"
            " const right = Math.max(...[...bar.querySelectorAll('*')]"
            ".filter((e) => e.offsetParent).map((e) => e.getBoundingClientRect().right));"
            " return [bar.scrollWidth - bar.clientWidth, right]; }"
        )
        assert overflow[0] <= 0 and overflow[1] <= 820, overflow

        page.get_by_role("button", name="Rate limits: off").click()
        expect(page.locator("#rate-limit")).to_contain_text("Rate limits: on")
        assert with_bolt.workspace.rate_limit.describe()["every"] == 2
        page.locator("#rate-limit").click()
        expect(page.locator("#rate-limit")).to_have_text("Rate limits: off")

        banner = page.locator("#restart-banner")
        expect(banner).to_be_hidden()
        ws = with_bolt.workspace
        with ws.changes.mutate():  # what a restarted process looks like to the page
            ws.boot, ws.changes.version = "restarted", 0
        expect(banner).to_be_visible()
        expect(banner).to_contain_text("pimbot.db")
        screenshot(page, "workspace-820.png")
        banner.get_by_role("button", name="Got it").click()
        expect(banner).to_be_hidden()
