"""The sign-in DM: the code, where to enter it, and its expiry in the user's time zone."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from bot.service.signins import DeviceCodePrompt
from handlers.blocks.signin import prompt_text

PROMPT = DeviceCodePrompt(
    user_code="ABCD1234",
    verification_uri="https://microsoft.com/devicelogin",
    message="To sign in, use a web browser…",
    expires_at=datetime(2026, 11, 29, 4, 58, tzinfo=UTC),
)


def test_the_code_and_link_are_shown_with_the_expiry_in_the_users_zone() -> None:
    text = prompt_text(PROMPT, "Europe/Paris")

    assert "`ABCD1234`" in text and "<https://microsoft.com/devicelogin>" in text
    # Slack shows the viewer's own zone; the fallback (notifications) is the user's zone.
    epoch = int(PROMPT.expires_at.timestamp())
    assert f"valid until <!date^{epoch}^" in text and "|Sun 29 Nov 2026 05:58 CET>" in text
    assert "never asks for your password" in text


def test_an_unknown_zone_falls_back_to_utc() -> None:
    assert "|Sun 29 Nov 2026 04:58 UTC>" in prompt_text(PROMPT, "Mars/Olympus_Mons")
    assert "|Sun 29 Nov 2026 04:58 UTC>" in prompt_text(PROMPT, None)


def test_a_step_up_prompt_says_why_a_new_sign_in_is_needed() -> None:
    step_up = replace(PROMPT, step_up=True)

    assert "stronger method" in prompt_text(step_up, "UTC")
    assert "stronger method" not in prompt_text(PROMPT, "UTC")
