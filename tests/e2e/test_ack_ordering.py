"""The ack reaches Slack before any Graph call: with a slow tenant it still arrives at once."""

from __future__ import annotations

import json
import time

import pytest

from tests.support.cast import CARD, USER_ADMIN
from tests.support.stack import GRAPH_WRITES, BotStack

pytestmark = pytest.mark.slow  # its tests take over ~0.5 s each (see pyproject.toml)

LATENCY = 1.5


def test_ack_arrives_before_the_slow_graph_calls_complete(bot: BotStack) -> None:
    bot.final(bot.command("list"))  # warm up: token, identity link and policy cache
    bot.faults.latency(LATENCY, times=100)  # every Graph call is slow…
    bot.faults.clear_log()

    reply = bot.command(CARD)

    assert reply.status == 200 and "Working on it" in reply.text
    assert reply.seconds < LATENCY / 3
    assert bot.faults.calls == []  # no Graph call had completed when Slack got the ack
    bot.faults.clear()  # …until the ack is in; then let the rest run at full speed
    final = bot.final(reply, timeout=30)
    assert "active until" in final["text"]
    assert bot.faults.count("POST", GRAPH_WRITES) == 1


def test_modal_opens_before_the_slow_graph_reads_complete(bot: BotStack) -> None:
    bot.final(bot.command("list"))  # warm up: token, identity link and policy cache
    bot.faults.latency(LATENCY, times=100)
    bot.faults.clear_log()

    reply = bot.command("")

    assert reply.status == 200 and reply.seconds < LATENCY / 3
    assert bot.faults.calls == []
    bot.faults.clear()
    bot.slack.wait_for("views.open")
    assert bot.slack.calls("views.update") == []  # the roles are still loading from Graph
    bot.slack.wait_for("views.update", timeout=30)


def test_valid_modal_submission_is_acked_before_the_slow_activation(bot: BotStack) -> None:
    bot.final(bot.command("list"))  # warm up: token, identity link and policy cache
    bot.faults.latency(LATENCY, times=100)
    bot.faults.clear_log()
    values = {
        "role": {"value": {"selected_option": {"value": USER_ADMIN}}},
        "duration": {"value": {"selected_option": {"value": "2h"}}},
        "ticket": {"value": {"value": "CONTOSO:Security-012345"}},
        "justification": {"value": {"value": "invalidate refresh tokens"}},
    }
    rules = json.dumps({"roles": {USER_ADMIN: [8 * 3600, 0]}})
    view = {
        "id": "V1",
        "type": "modal",
        "callback_id": "pim_activate",
        "private_metadata": rules,
        "state": {"values": values},
    }

    reply = bot.interact(
        {
            "type": "view_submission",
            "user": {"id": "U_ALINE"},
            "team": {"id": "T_CONTOSO"},
            "api_app_id": "A_PIMBOT",
            "view": view,
        }
    )

    assert reply.status == 200 and reply.body == {} and reply.seconds < LATENCY / 3
    assert bot.faults.calls == []
    bot.faults.clear()
    deadline = time.monotonic() + 30
    while bot.faults.count("POST", GRAPH_WRITES) == 0:  # the activation follows the ack
        assert time.monotonic() < deadline
        time.sleep(0.02)
