"""Bolt rejects unsigned, forged and stale requests before any listener runs."""

from __future__ import annotations

import time

import pytest

from tests.support.signing import command_body
from tests.support.stack import BotStack

CARD = "activate user-admin 5h CONTOSO:Security-012345 invalidate refresh tokens"


def _body(bot: BotStack) -> str:
    return command_body(CARD, user_id="U_ALINE", response_url=bot.slack.response_url())


def _assert_nothing_ran(bot: BotStack) -> None:
    time.sleep(0.3)  # a listener, had one run, would have called Slack or Graph by now
    assert bot.slack.calls() == []
    assert bot.faults.calls == []


def test_forged_signature_is_rejected(bot: BotStack) -> None:
    body = _body(bot)
    headers = bot.signed(body)
    headers["X-Slack-Signature"] = "v0=" + "0" * 64

    assert bot.post(body, headers).status == 401
    _assert_nothing_ran(bot)


def test_body_tampered_after_signing_is_rejected(bot: BotStack) -> None:
    body = _body(bot)
    headers = bot.signed(body)

    assert bot.post(body.replace("U_ALINE", "U_ADMIN"), headers).status == 401
    _assert_nothing_ran(bot)


def test_stale_timestamp_is_rejected(bot: BotStack) -> None:
    body = _body(bot)
    headers = bot.signed(body, timestamp=time.time() - 6 * 60)

    assert bot.post(body, headers).status == 401
    _assert_nothing_ran(bot)


@pytest.mark.parametrize("missing", ["X-Slack-Signature", "X-Slack-Request-Timestamp", "both"])
def test_missing_headers_are_rejected(bot: BotStack, missing: str) -> None:
    body = _body(bot)
    headers = bot.signed(body)
    for name in ("X-Slack-Signature", "X-Slack-Request-Timestamp"):
        if missing in (name, "both"):
            del headers[name]

    assert bot.post(body, headers).status == 401
    _assert_nothing_ran(bot)
