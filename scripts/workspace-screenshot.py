"""Retake docs/local-workspace.png from a running `pimbot run` (local workspace).

    .venv/bin/pimbot run &            # serves http://127.0.0.1:3000
    .venv/bin/python scripts/workspace-screenshot.py --url http://127.0.0.1:3000

Needs /usr/bin/chromium (scripts/install-browser.sh) and the `playwright` package; start
from a fresh database so the conversation is the only one on screen."""

from __future__ import annotations

import argparse
from typing import Any

from playwright.sync_api import sync_playwright

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
CARD = "/pim activate user-admin 5h CONTOSO:Security-012345 invalidate refresh tokens"


def say(page: Any, text: str, wait_ms: int = 600) -> None:
    page.fill("#message-box", text)
    page.keyboard.press("Enter")
    page.wait_for_timeout(wait_ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:3000")
    parser.add_argument("--out", default="docs/local-workspace.png")
    args = parser.parse_args()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 760})
        page.goto(f"{args.url}/?user=U_MEGAN")
        page.get_by_text("general", exact=True).click()
        say(page, "<@U_ALINE> Alex's laptop was stolen at the airport. "
                  "Can you invalidate his refresh tokens?")  # fmt: skip
        page.locator("#user-select").select_option("U_ALINE")
        page.get_by_text("general", exact=True).click()
        say(page, "On it — activating User Administrator for the reset.")
        say(page, CARD, wait_ms=4000)  # the bot answers after its ack, through Graph
        page.screenshot(path=args.out)
        browser.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
