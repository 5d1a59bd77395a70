"""App Home buttons and reminder buttons: identity from the payload, values only name targets."""

from __future__ import annotations

import json

import pytest

from tests.support.cast import ALINE, CARD, USER_ADMIN
from tests.support.payloads import block_actions
from tests.support.stack import BotStack

pytestmark = pytest.mark.slow  # its tests take over ~0.5 s each (see pyproject.toml)


def _click(bot: BotStack, user: str, action_id: str, value: str) -> None:
    """A click on the App Home: Slack gets an empty 200 (the bot answers on its own)."""
    reply = bot.interact(block_actions(user, action_id, value, home=True))
    assert reply.status == 200 and reply.body == {}


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
    bot.clock.advance(5 * 60)  # Entra refuses a deactivation within 5 minutes

    _click(bot, "U_ALINE", "home_deactivate", USER_ADMIN)

    bot.dm("U_ALINE", "deactivated")
    bot.slack.wait_for("views.publish")
    assert bot.tenant.live_assignment(ALINE.id, USER_ADMIN) is None


def test_reminder_extend_extends_the_clickers_own_request(bot: BotStack) -> None:
    request_id = _record_id(bot)
    bot.clock.advance(5 * 60)  # extending ends it first: Entra's 5-minute floor applies

    _click(bot, "U_ALINE", "reminder_extend", request_id)

    assert "extended until" in bot.dm("U_ALINE", "extended")["text"]


def test_someone_elses_request_id_in_a_button_does_nothing(bot: BotStack) -> None:
    request_id = _record_id(bot)
    writes = bot.graph_writes()

    _click(bot, "U_ADMIN", "reminder_deactivate", request_id)

    assert f"You have no request `{request_id}`" in bot.dm("U_ADMIN", "no request")["text"]
    assert bot.graph_writes() == writes
    assert bot.tenant.live_assignment(ALINE.id, USER_ADMIN) is not None


def test_cancel_button_withdraws_a_pending_request(bot: BotStack) -> None:
    final = bot.final(bot.command("activate global-admin 1h need tenant-wide settings change"))
    pending_id = final["text"].split("Your request `")[1].split("`")[0]

    _click(bot, "U_ALINE", "cancel_request", pending_id)

    assert "cancelled" in bot.dm("U_ALINE", "cancelled")["text"]


def test_readyz_answers_503_when_graph_fails(bot: BotStack) -> None:
    bot.faults.fail(503, times=50, retry_after=0.01)

    answer = bot.http.get("/readyz")

    assert answer.status_code == 503
    assert answer.json()["graph"].startswith("failing") and answer.json()["database"] == "ok"
