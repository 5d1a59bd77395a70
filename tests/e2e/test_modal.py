"""The activation modal: opened within the trigger window, inline errors, valid submission."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.support.cast import ALINE, SECURITY_ADMIN, USER_ADMIN
from tests.support.stack import BotStack

pytestmark = pytest.mark.slow  # its tests take over ~0.5 s each (see pyproject.toml)


def _open(bot: BotStack, text: str = "") -> dict[str, Any]:
    reply = bot.command(text)
    assert reply.status == 200 and reply.text == ""
    bot.slack.wait_for("views.update")
    return bot.slack.calls("views.update")[-1].body


def _submission(view: dict[str, Any], **fields: str | None) -> dict[str, Any]:
    def select(value: str | None) -> dict[str, Any]:
        chosen = {"text": {"type": "plain_text", "text": value}, "value": value}
        return {"type": "static_select", "selected_option": chosen if value else None}

    values = {
        "role": {"value": select(fields.get("role"))},
        "duration": {"value": select(fields.get("duration"))},
        "ticket": {"value": {"type": "plain_text_input", "value": fields.get("ticket")}},
        "justification": {
            "value": {"type": "plain_text_input", "value": fields.get("justification")}
        },
    }
    return {
        "type": "view_submission",
        "team": {"id": "T_CONTOSO", "domain": "contoso"},
        "user": {"id": "U_ALINE", "team_id": "T_CONTOSO"},
        "api_app_id": "A_PIMBOT",
        "token": "deprecated",
        "trigger_id": "trigger.submit",
        "view": {**view["view"], "id": view["view_id"], "state": {"values": values}},
    }


def test_slash_pim_alone_opens_loading_modal_then_fills_it_with_eligible_roles(
    bot: BotStack,
) -> None:
    update = _open(bot)

    (opened,) = bot.slack.calls("views.open")
    assert "Loading your roles" in str(opened.body["view"])
    assert opened.at <= bot.slack.calls("views.update")[0].at
    blocks = {b["block_id"]: b for b in update["view"]["blocks"]}
    roles = [o["value"] for o in blocks["role"]["element"]["options"]]
    assert USER_ADMIN in roles and SECURITY_ADMIN in roles
    durations = [o["value"] for o in blocks["duration"]["element"]["options"]]
    assert "8h" in durations and "12h" not in durations  # largest max among her roles: 8h


def test_activate_with_missing_pieces_opens_the_modal_prefilled(bot: BotStack) -> None:
    update = _open(bot, "activate user-admin")

    blocks = {b["block_id"]: b for b in update["view"]["blocks"]}
    assert blocks["role"]["element"]["initial_option"]["value"] == USER_ADMIN


def test_invalid_submission_gets_inline_errors_and_no_graph_write(bot: BotStack) -> None:
    view = _open(bot)

    reply = bot.interact(
        _submission(view, role=SECURITY_ADMIN, duration="8h", ticket=None, justification="x")
    )

    assert reply.status == 200
    assert reply.body["response_action"] == "errors"
    assert set(reply.body["errors"]) == {"ticket", "justification"}
    assert "CONTOSO:Security-012345" in reply.body["errors"]["ticket"]
    assert bot.graph_writes() == 0


def test_malformed_ticket_and_over_max_duration_are_inline_errors(bot: BotStack) -> None:
    view = _open(bot)
    payload = _submission(
        view, role=USER_ADMIN, duration="1d", ticket="JIRA-1", justification="rotate keys now"
    )
    view_blocks = payload["view"]["blocks"]
    view_blocks[1]["element"]["options"].append({"value": "1d"})  # as if the client sent it

    reply = bot.interact(payload)

    assert set(reply.body["errors"]) == {"duration", "ticket"}
    assert "8 hours" in reply.body["errors"]["duration"]


def test_valid_submission_closes_the_modal_and_activates(bot: BotStack) -> None:
    view = _open(bot)

    reply = bot.interact(
        _submission(
            view,
            role=USER_ADMIN,
            duration="2h",
            ticket="CONTOSO:Security-012345",
            justification="invalidate refresh tokens",
        )
    )

    assert reply.status == 200 and reply.body == {}
    deadline = time.monotonic() + 15
    while bot.tenant.live_assignment(ALINE.id, USER_ADMIN) is None:
        assert time.monotonic() < deadline, "the activation never reached the tenant"
        time.sleep(0.02)
    dm = bot.slack.wait_for("chat.postMessage")
    assert any("User Administrator" in c.body["text"] for c in dm)
