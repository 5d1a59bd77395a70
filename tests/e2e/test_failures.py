"""When Graph or Slack fail, the user still gets a plain message, never a trace or silence."""

from __future__ import annotations

import logging
import re
import time
from urllib.parse import urlencode

import pytest

from tests.support.cast import ALINE, CARD, USER_ADMIN
from tests.support.stack import GRAPH_WRITES, BotStack


@pytest.mark.slow
def test_graph_throttling_past_the_budget_says_try_again_and_nothing_is_half_done(
    bot: BotStack,
) -> None:
    bot.faults.throttle(times=50, retry_after=0.01, method="POST", path=GRAPH_WRITES)

    final = bot.final(bot.command(CARD))

    assert "throttling" in final["text"] and "try again" in final["text"]
    assert bot.tenant.live_assignment(ALINE.id, USER_ADMIN) is None
    bot.faults.clear()
    status = bot.final(bot.command("status user-admin"))
    assert "Nothing active" in str(status["blocks"])


@pytest.mark.slow
def test_graph_down_on_reads_says_so_plainly(bot: BotStack) -> None:
    bot.faults.fail(503, times=50, retry_after=0.01)

    final = bot.final(bot.command("list"))

    assert "not responding" in final["text"]
    assert "Traceback" not in str(final)


def test_unexpected_error_shows_a_ref_that_is_logged_with_the_trace(
    bot: BotStack, caplog: pytest.LogCaptureFixture
) -> None:
    # A Slack failure the service cannot expect: 429 four times outlasts the SDK's three
    # retries (handlers.outbox.web_client).
    bot.slack.rate_limit("users.info", times=4)

    with caplog.at_level(logging.ERROR, logger="handlers"):
        final = bot.final(bot.command(CARD, user="U_DIEGO"))

    match = re.search(r"Something went wrong on our side \(ref `(\w+)`\)", final["text"])
    assert match is not None
    logged = [r for r in caplog.records if match.group(1) in r.getMessage()]
    assert logged and logged[0].exc_info is not None
    assert bot.graph_writes() == 0


def test_error_escaping_a_listener_reaches_the_last_net(bot: BotStack) -> None:
    url = bot.slack.response_url()
    body = urlencode(
        {"command": "/pim", "text": "list", "response_url": url, "team_id": "T_CONTOSO"}
    )  # no user_id: the listener can't go on

    reply = bot.post(body, bot.signed(body), url)

    assert "Traceback" not in reply.text
    posted = bot.final(reply)
    assert "Something went wrong on our side" in posted["text"]


@pytest.mark.slow
def test_audit_channel_failure_is_logged_and_does_not_fail_the_activation(
    bot: BotStack, caplog: pytest.LogCaptureFixture
) -> None:
    # The first post is an audit copy; 429 twice outlasts the SDK's one retry.
    bot.slack.rate_limit("chat.postMessage", times=2)

    with caplog.at_level(logging.INFO, logger="handlers.outbox"):
        final = bot.final(bot.command(CARD))

    assert "active until" in final["text"]
    assert any("ratelimited" in r.getMessage() for r in caplog.records)
    assert bot.tenant.live_assignment(ALINE.id, USER_ADMIN) is not None
    # Kept in the outbox, the copy is sent again after Slack's Retry-After: two 429s, one ok.
    deadline = time.monotonic() + 15
    while len(_audit_copies(bot, "requested")) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_audit_copies(bot, "requested")) == 3


def _audit_copies(bot: BotStack, kind: str) -> list[str]:
    return [
        str(c.body["text"])
        for c in bot.slack.calls("chat.postMessage")
        if c.body["channel"] == "C_PIM_AUDIT" and f" · {kind} · " in c.body["text"]
    ]
