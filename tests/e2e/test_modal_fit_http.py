"""The activation form over real HTTP (signed command, block_actions and view_submission;
the fake Slack Web API): it names a role it doesn't know, follows the role picked, and its
errors are plain text."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.support.cast import GLOBAL_ADMIN, SECURITY_ADMIN, USER_ADMIN
from tests.support.payloads import TEAM
from tests.support.stack import BotStack

pytestmark = pytest.mark.slow  # a whole bot over HTTP


def _open(bot: BotStack, text: str) -> dict[str, Any]:
    reply = bot.command(text)
    assert reply.status == 200 and reply.text == ""
    (update,) = bot.slack.wait_for("views.update")
    return dict(update.body["view"])


def _by_id(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b.get("block_id", "notice"): b for b in view["blocks"]}


def _pick(view: dict[str, Any], role_id: str) -> dict[str, Any]:
    """The block_actions Slack sends when a role is picked (the role input dispatches)."""
    option = {"text": {"type": "plain_text", "text": role_id}, "value": role_id}
    return {
        "type": "block_actions",
        "user": {"id": "U_ALINE", "team_id": TEAM["id"]},
        "team": TEAM,
        "api_app_id": "A_PIMBOT",
        "trigger_id": f"trigger.{time.monotonic_ns()}",
        "container": {"type": "view", "view_id": "V_FORM"},
        "view": {**view, "id": "V_FORM", "hash": "h.1", "state": {"values": {}}},
        "actions": [
            {
                "type": "static_select",
                "block_id": "role",
                "action_id": "value",
                "selected_option": option,
                "action_ts": "1",
            }
        ],
    }


def test_an_unknown_role_typed_before_the_form_is_named_in_it(bot: BotStack) -> None:
    view = _open(bot, "activate no-such-role")

    assert view["blocks"][0]["text"]["text"].startswith(
        ":warning: `no-such-role` is not one of the roles you can activate"
    )
    assert "initial_option" not in _by_id(view)["role"]["element"]


def test_picking_a_role_fits_the_durations_and_the_ticket_field_to_it(bot: BotStack) -> None:
    view = _open(bot, "activate")
    assert _by_id(view)["ticket"]["optional"] is True

    bot.interact(_pick(view, GLOBAL_ADMIN))
    (_, fitted) = bot.slack.wait_for("views.update", count=2)

    assert fitted.body["view_id"] == "V_FORM" and fitted.body["hash"] == "h.1"
    durations = [o["value"] for o in _by_id(fitted.body["view"])["duration"]["element"]["options"]]
    assert durations[-1] == "4h"  # Global Administrator's maximum, not Aline's largest

    bot.interact(_pick(view, SECURITY_ADMIN))
    third = bot.slack.wait_for("views.update", count=3)[-1]
    assert _by_id(third.body["view"])["ticket"]["optional"] is False


def test_form_errors_have_no_literal_backticks(bot: BotStack) -> None:
    view = _open(bot, "activate user-admin")
    values = {
        "role": {"value": {"selected_option": {"value": USER_ADMIN}}},
        "duration": {"value": {"selected_option": {"value": "1h"}}},
        "ticket": {"value": {"value": "JIRA:ABC-1"}},
        "justification": {"value": {"value": "rotate the keys today"}},
    }
    submission = {
        "type": "view_submission",
        "team": TEAM,
        "user": {"id": "U_ALINE", "team_id": TEAM["id"]},
        "api_app_id": "A_PIMBOT",
        "view": {**view, "id": "V_FORM", "state": {"values": values}},
    }

    reply = bot.interact(submission)

    assert reply.body["response_action"] == "errors"
    assert reply.body["errors"]["ticket"] == (
        '"JIRA:ABC-1" is not a CONTOSO ticket number: it should look like '
        '"CONTOSO:Security-012345".'
    )
    assert bot.graph_writes() == 0
