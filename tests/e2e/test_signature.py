"""Bolt rejects unsigned, forged and stale requests before any listener runs."""

from __future__ import annotations

import time
from urllib.parse import parse_qs

import pytest

from tests.support.cast import ADMIN, CARD, USER_ADMIN
from tests.support.signing import command_body
from tests.support.stack import BotStack

pytestmark = pytest.mark.slow  # its tests take over ~0.5 s each (see pyproject.toml)


def _body(bot: BotStack) -> str:
    return command_body(CARD, user_id="U_ALINE", response_url=bot.slack.response_url())


def _assert_nothing_ran(bot: BotStack, body: str) -> None:
    """Positive signal instead of a pause: Aline's command, signed right, runs to its end
    after the refused one. It is the first activation (not "already active") and the only
    Graph write, and nothing reached the refused request's response_url."""
    refused_url = parse_qs(body)["response_url"][0]
    assert "active until" in bot.final(bot.command(CARD))["text"]
    assert bot.graph_writes() == 1
    assert bot.slack.responses(refused_url) == []
    assert bot.tenant.live_assignment(ADMIN.id, USER_ADMIN) is None  # none for anyone else


def test_forged_signature_is_rejected(bot: BotStack) -> None:
    body = _body(bot)
    headers = bot.signed(body)
    headers["X-Slack-Signature"] = "v0=" + "0" * 64

    assert bot.post(body, headers).status == 401
    _assert_nothing_ran(bot, body)


def test_body_tampered_after_signing_is_rejected(bot: BotStack) -> None:
    body = _body(bot)
    headers = bot.signed(body)

    tampered = body.replace("U_ALINE", "U_ADMIN")
    assert bot.post(tampered, headers).status == 401
    _assert_nothing_ran(bot, tampered)


def test_stale_timestamp_is_rejected(bot: BotStack) -> None:
    body = _body(bot)
    headers = bot.signed(body, timestamp=time.time() - 6 * 60)

    assert bot.post(body, headers).status == 401
    _assert_nothing_ran(bot, body)


@pytest.mark.parametrize("missing", ["X-Slack-Signature", "X-Slack-Request-Timestamp", "both"])
def test_missing_headers_are_rejected(bot: BotStack, missing: str) -> None:
    body = _body(bot)
    headers = bot.signed(body)
    for name in ("X-Slack-Signature", "X-Slack-Request-Timestamp"):
        if missing in (name, "both"):
            del headers[name]

    assert bot.post(body, headers).status == 401
    _assert_nothing_ran(bot, body)
