"""`/pim` end to end: signed slash commands -> the bot over HTTP -> sandbox tenant, fake Slack."""

from __future__ import annotations

import json
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.support.cast import ADMIN, ALINE, CARD, GLOBAL_ADMIN, USER_ADMIN
from tests.support.stack import BotStack


@pytest.mark.slow
def test_card_command_activates_user_administrator_for_five_hours(bot: BotStack) -> None:
    reply = bot.command(CARD)

    assert reply.status == 200
    assert "Working on it" in reply.text
    final = bot.final(reply)
    # A new message after the ack: Slack cannot replace a command's ack.
    assert final["replace_original"] is False and final["response_type"] == "ephemeral"
    assert "User Administrator" in final["text"] and "active until" in final["text"]
    assignment = bot.tenant.live_assignment(ALINE.id, USER_ADMIN)
    assert assignment is not None
    assert assignment.end is not None and assignment.start is not None
    assert assignment.end - assignment.start == timedelta(hours=5)
    (request,) = bot.tenant.requests.values()
    assert request.ticket is not None and request.ticket.number == "CONTOSO:Security-012345"
    assert request.justification == "invalidate refresh tokens"


@pytest.mark.slow
def test_outcome_names_scope_times_in_users_zone_ticket_and_graph_request_id(
    bot: BotStack,
) -> None:
    final = bot.final(bot.command(CARD))

    details = "\n".join(b["text"]["text"] for b in final["blocks"] if b["type"] == "section")
    (request,) = bot.tenant.requests.values()
    assert "*Scope:* Whole directory" in details
    # Times are `<!date^…>` (Slack shows each viewer's zone); the fallback is in Aline's
    # Slack time zone (Europe/Paris): CET or CEST as the date has it.
    assert request.end is not None
    paris = ZoneInfo(ALINE.tz)
    for moment in (request.start, request.end):
        assert f"<!date^{int(moment.timestamp())}^" in details
        assert moment.astimezone(paris).strftime("%H:%M %Z>") in details
    assert "CONTOSO:Security-012345" in details
    assert request.id in details
    said = [b for b in final["blocks"] if b["type"] == "rich_text"]  # quoted as typed
    assert said[0]["elements"][0]["elements"][0]["text"] == "invalidate refresh tokens"


@pytest.mark.slow
def test_outcome_is_also_sent_as_a_dm(bot: BotStack) -> None:
    bot.final(bot.command(CARD))

    # conversations.open ran once for U_ALINE (the notifier caches the DM channel id)
    dms = [c for c in bot.slack.wait_for("chat.postMessage") if c.body["channel"] == "D_U_ALINE"]
    assert "User Administrator" in dms[0].body["text"]


def test_approval_required_role_says_so_plainly_and_writes_nothing(bot: BotStack) -> None:
    final = bot.final(bot.command("activate global-admin 1h need tenant-wide settings change"))

    assert "needs approval" in final["text"]
    assert bot.graph_writes() == 0


def test_list_shows_eligible_roles_including_via_groups(bot: BotStack) -> None:
    final = bot.final(bot.command("list"))

    text = "\n".join(b["text"]["text"] for b in final["blocks"] if b["type"] == "section")
    assert "User Administrator" in text and "via IT Helpdesk (User)" in text
    assert bot.graph_writes() == 0


@pytest.mark.slow
def test_status_then_extend_then_deactivate(bot: BotStack) -> None:
    bot.final(bot.command(CARD))

    status = bot.final(bot.command("status user-admin"))
    assert "left" in status["blocks"][0]["text"]["text"]
    bot.clock.advance(5 * 60)  # extending ends it first: Entra's 5-minute floor applies
    extended = bot.final(bot.command("extend user-admin 1h"))
    assert "extended until" in extended["text"]
    bot.clock.advance(5 * 60)  # Entra refuses a deactivation within 5 minutes
    ended = bot.final(bot.command("deactivate user-admin"))
    assert "deactivated" in ended["text"]
    assert bot.tenant.live_assignment(ALINE.id, USER_ADMIN) is None


def test_help_answers_in_the_ack(bot: BotStack) -> None:
    reply = bot.command("help")

    assert reply.status == 200
    assert "/pim activate" in reply.text
    # Positive signal before "nothing more came": a command sent after it has its answer.
    assert "User Administrator" in json.dumps(bot.final(bot.command("list")))
    assert bot.slack.responses(reply.response_url) == []


@pytest.mark.slow
def test_app_home_lists_roles_with_activate_buttons(bot: BotStack) -> None:
    bot.event({"type": "app_home_opened", "user": "U_ALINE", "tab": "home"})

    (published,) = bot.slack.wait_for("views.publish")
    assert published.body["user_id"] == "U_ALINE"
    buttons = [
        b["accessory"]["action_id"] for b in published.body["view"]["blocks"] if "accessory" in b
    ]
    # User, Global, Security, Exchange and Teams Administrator tenant-wide, Helpdesk
    # Administrator over Paris Office (seed.yml).
    assert buttons.count("home_activate") == 6


@pytest.mark.slow
def test_readyz_checks_graph_token_database_and_slack(bot: BotStack) -> None:
    answer = bot.http.get("/readyz")

    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "graph": "ok", "database": "ok", "slack": "ok"}


@pytest.mark.slow
def test_a_permanent_assignment_is_not_pimbots_to_remove(bot: BotStack) -> None:
    """MOD Administrator is Global Administrator permanently (an admin's assignment): the
    Home shows it with no Deactivate button, and `/pim deactivate` refuses, saying why,
    without asking Graph (issue 15)."""
    bot.event({"type": "app_home_opened", "user": "U_ADMIN", "tab": "home"})
    (published,) = bot.slack.wait_for("views.publish")
    [row] = [
        b
        for b in published.body["view"]["blocks"]
        if "Global Administrator" in json.dumps(b)
        and "permanent" in json.dumps(b)
        and "via pimbot" not in json.dumps(b)  # "Active now", not the approvers' board
    ]
    assert "accessory" not in row

    refused = bot.final(bot.command("deactivate global-admin", user="U_ADMIN"))

    assert "permanently" in refused["text"] and "not pimbot's to remove" in refused["text"]
    assert bot.graph_writes() == 0
    assert bot.tenant.live_assignment(ADMIN.id, GLOBAL_ADMIN) is not None
