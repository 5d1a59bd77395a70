"""The page in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright),
against the tiny Bolt app: what a person sees and clicks, end to end."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.workspace.conftest import Rig

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK),
    reason=f"{CHROMIUM} is missing: run scripts/install-browser.sh (as root) to install it",
)


@pytest.fixture
def page() -> Iterator[Any]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser.new_page(viewport={"width": 1280, "height": 800})
        finally:
            browser.close()


def test_a_person_runs_the_command_fills_the_modal_and_others_never_see_her_ephemerals(
    with_bolt: Rig, page: Any,
) -> None:
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
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
    page.screenshot(path=str(ARTIFACTS / "workspace-aline.png"))

    page.get_by_role("button", name="Home").click()
    expect(page.locator("#home")).to_contain_text("Your roles")

    page.locator("#user-select").select_option("U_ADMIN")
    expect(page.locator("#me-name")).to_have_text("MOD Administrator")
    page.get_by_text("general", exact=True).click()
    expect(page.locator("#messages")).to_contain_text("No messages yet.")
    expect(page.get_by_text("you said hello")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "workspace-admin.png"))
