"""App Home buttons and reminder buttons: identity from the payload, values only name targets."""

from __future__ import annotations

import json
import time

from tests.support.stack import BotStack

ALINE_ID = "7146daa8-1b4b-4a66-b2f7-cf593d03c8d2"
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"
CARD = "activate user-admin 5h CONTOSO:Security-012345 invalidate refresh tokens"


def _click(bot: BotStack, user: str, action_id: str, value: str) -> None:
    reply = bot.interact(
        {
            "type": "block_actions",
            "user": {"id": user, "team_id": "T_CONTOSO"},
            "team": {"id": "T_CONTOSO"},
            "api_app_id": "A_PIMBOT",
            "trigger_id": f"trigger.{time.monotonic_ns()}",
            "view": {"id": "V_HOME", "type": "home"},
            "container": {"type": "view", "view_id": "V_HOME"},
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "value": value,
                    "block_id": "b",
                    "action_ts": "1",
                }
            ],
        }
    )
    assert reply.status == 200 and reply.body == {}


def _dm_text(bot: BotStack, user: str, fragment: str) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for call in bot.slack.calls("chat.postMessage"):
            if call.body["channel"] == f"D_{user}" and fragment in call.body["text"]:
                return str(call.body["text"])
        time.sleep(0.02)
    raise AssertionError(f"no DM to {user} containing {fragment!r}")


def _record_id(bot: BotStack) -> str:
    final = bot.final(bot.command(CARD))
    return str(json.dumps(final)).split("*pimbot request:* `")[1].split("`")[0]


def test_home_activate_opens_the_modal_prefilled_with_that_role(bot: BotStack) -> None:
    _click(bot, "U_ALINE", "home_activate", USER_ADMIN)

    (update,) = bot.slack.wait_for("views.update")
    role_block = update.body["view"]["blocks"][0]
    assert role_block["element"]["initial_option"]["value"] == USER_ADMIN


def test_home_deactivate_ends_the_role_and_republishes_home(bot: BotStack) -> None:
    bot.final(bot.command(CARD))

    _click(bot, "U_ALINE", "home_deactivate", USER_ADMIN)

    _dm_text(bot, "U_ALINE", "deactivated")
    bot.slack.wait_for("views.publish")
    assert bot.tenant.live_assignment(ALINE_ID, USER_ADMIN) is None


def test_reminder_extend_extends_the_clickers_own_request(bot: BotStack) -> None:
    request_id = _record_id(bot)

    _click(bot, "U_ALINE", "reminder_extend", request_id)

    assert "extended until" in _dm_text(bot, "U_ALINE", "extended")


def test_someone_elses_request_id_in_a_button_does_nothing(bot: BotStack) -> None:
    request_id = _record_id(bot)
    writes = bot.graph_writes()

    _click(bot, "U_ADMIN", "reminder_deactivate", request_id)

    assert f"You have no request `{request_id}`" in _dm_text(bot, "U_ADMIN", "no request")
    assert bot.graph_writes() == writes
    assert bot.tenant.live_assignment(ALINE_ID, USER_ADMIN) is not None


def test_cancel_button_withdraws_a_pending_request(bot: BotStack) -> None:
    final = bot.final(bot.command("activate global-admin 1h need tenant-wide settings change"))
    pending_id = final["text"].split("Your request `")[1].split("`")[0]

    _click(bot, "U_ALINE", "cancel_request", pending_id)

    assert "cancelled" in _dm_text(bot, "U_ALINE", "cancelled")


def test_healthz_answers_503_when_graph_fails(bot: BotStack) -> None:
    bot.faults.fail(503, times=50, retry_after=0.01)

    answer = bot.http.get("/healthz")

    assert answer.status_code == 503
    assert answer.json()["graph"].startswith("failing") and answer.json()["database"] == "ok"
