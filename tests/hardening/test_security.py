"""Hostile and malformed input over real HTTP: each is refused (or does only what the
payload's own user may do), never shows a trace, and changes nothing in the sandbox."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest

from tests.support.cast import ALINE, CARD, GLOBAL_ADMIN, USER_ADMIN
from tests.support.signing import command_body, signed_headers
from tests.support.stack import GRAPH_WRITES, BotStack


def click(bot: BotStack, user: str, action_id: str, value: str) -> int:
    payload = {
        "type": "block_actions",
        "user": {"id": user, "team_id": "T_CONTOSO"},
        "team": {"id": "T_CONTOSO"},
        "api_app_id": "A_PIMBOT",
        "trigger_id": f"trigger.{time.monotonic_ns()}",
        "response_url": bot.slack.response_url(),
        "channel": {"id": "C_PIM_APPROVALS"},
        "container": {"type": "message", "channel_id": "C_PIM_APPROVALS"},
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
    return bot.interact(payload).status


def unchanged(bot: BotStack) -> None:
    assert bot.graph_writes() == 0
    assert bot.tenant.live_assignments() == [] or all(
        a.assignment_type != "Activated" for a in bot.tenant.live_assignments()
    )


def test_a_forged_signature_is_refused_and_nothing_happens(bot: BotStack) -> None:
    url = bot.slack.response_url()
    body = command_body(CARD, user_id="U_ALINE", response_url=url)
    headers = signed_headers("not-the-signing-secret", body)

    reply = bot.post(body, headers, url)

    assert reply.status == 401
    time.sleep(0.3)
    assert bot.slack.responses(url) == []
    unchanged(bot)


def test_a_replayed_old_request_is_refused(bot: BotStack) -> None:
    url = bot.slack.response_url()
    body = command_body(CARD, user_id="U_ALINE", response_url=url)
    headers = bot.signed(body, timestamp=time.time() - 6 * 60)  # signed, but 6 min old

    assert bot.post(body, headers, url).status == 401
    unchanged(bot)


def test_a_replay_inside_the_window_activates_at_most_once(bot: BotStack) -> None:
    url = bot.slack.response_url()
    body = command_body(CARD, user_id="U_ALINE", response_url=url)
    headers = bot.signed(body)

    first = bot.post(body, headers, url)
    assert "active until" in bot.final(first)["text"]
    bot.post(body, headers, url)  # the same signed bytes again
    deadline = time.monotonic() + 10
    while len(bot.slack.responses(url)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)

    assert "already active" in bot.slack.responses(url)[-1]["text"]
    assert bot.graph_writes() == 1


def test_text_naming_another_user_acts_only_for_the_payloads_user(bot: BotStack) -> None:
    final = bot.final(
        bot.command(
            "activate user-admin 5h CONTOSO:Security-012345 on behalf of user_id=U_ADMIN "
            "admin@contoso.com",
            user="U_ALINE",
        )
    )

    assert "active until" in final["text"]
    (write,) = bot.faults.find("POST", GRAPH_WRITES)
    assert write.request_body["principalId"] == ALINE.id
    assert {a.principal_id for a in bot.tenant.live_assignments() if a.role_id == USER_ADMIN} >= {
        ALINE.id
    }
    assert all(
        a.principal_id == ALINE.id
        for a in bot.tenant.live_assignments()
        if a.assignment_type == "Activated"
    )


def test_a_mention_of_another_user_is_refused(bot: BotStack) -> None:
    final = bot.final(bot.command(CARD + " for <@U_ADMIN>", user="U_ALINE"))

    assert final["text"].startswith(":warning:")
    unchanged(bot)


def test_a_requester_not_mapped_to_any_entra_user_is_refused(bot: BotStack) -> None:
    final = bot.final(bot.command(CARD, user="U_NOMAIL"))

    assert final["text"].startswith(":warning:")
    assert "Traceback" not in str(final)
    unchanged(bot)


def test_an_unknown_slack_user_is_refused(bot: BotStack) -> None:
    final = bot.final(bot.command(CARD, user="U_NOBODY"))

    assert final["text"].startswith(":warning:")
    unchanged(bot)


@pytest.mark.parametrize(
    "text",
    [
        "activate user-admin 5h CONTOSO:Security-012345 " + "x" * 10_000,
        "activate user-admin 5h CONTOSO:Security-012345 \x00\x1b[31m\x07 reason\u202e",
        "activate " + "a" * 10_000,
        "activate user-admin 99999999999999999999h CONTOSO:Security-012345 big duration",
        "\x00" * 100,
        "activate user-admin -5h CONTOSO:Security-012345 negative duration",
        "activate user-admin 5h " + "CONTOSO:Security-0123456789" * 400 + " long ticket",
    ],
    ids=[
        "10kB-justification",
        "control-chars",
        "10kB-role",
        "huge-duration",
        "nuls",
        "negative",
        "10kB-ticket",
    ],
)
def test_overlong_and_malformed_text_is_refused_without_a_trace(bot: BotStack, text: str) -> None:
    reply = bot.command(text)

    assert reply.status == 200
    if not reply.body:  # an empty ack: the activation form opens instead, within limits
        (opened,) = bot.slack.wait_for("views.open")
        assert len(json.dumps(opened.body)) < 50_000
        assert "a" * 3001 not in json.dumps(opened.body)
    else:
        shown = reply.text
        if "Working on it" in reply.text:
            shown = bot.final(reply)["text"]
        assert shown.startswith(":warning:") or "help" in shown.lower()
        assert "Traceback" not in shown
    unchanged(bot)


def test_line_breaks_in_a_justification_reach_graph_as_data(bot: BotStack) -> None:
    text = "activate user-admin 5h CONTOSO:Security-012345 ok\r\n\r\nX-Injected: yes"

    final = bot.final(bot.command(text))

    assert "active until" in final["text"]
    (write,) = bot.faults.find("POST", GRAPH_WRITES)
    assert "X-Injected: yes" in write.request_body["justification"]
    assert write.request_body["principalId"] == ALINE.id


@pytest.mark.parametrize(
    "body",
    [
        urlencode({"payload": "{not json"}),
        urlencode({"payload": json.dumps([1, 2, 3])}),
        urlencode({"payload": json.dumps({"type": "block_actions"})}),
        urlencode(
            {
                "payload": json.dumps(
                    {
                        "type": "block_actions",
                        "user": {"id": "U_ALINE"},
                        "actions": [{"action_id": "no_such_action", "value": "x"}],
                    }
                )
            }
        ),
        urlencode({"payload": "x" * 20_000}),
    ],
    ids=["bad-json", "json-list", "missing-fields", "unknown-action", "20kB-junk"],
)
def test_malformed_interaction_payloads_change_nothing(bot: BotStack, body: str) -> None:
    reply = bot.post(body, bot.signed(body))

    assert reply.status < 500 or "Traceback" not in str(reply.body)
    assert "Traceback" not in str(reply.body)
    time.sleep(0.2)
    unchanged(bot)


def _pending_global_admin(bot: BotStack) -> str:
    final = bot.final(bot.command("activate global-admin 1h need tenant-wide settings change"))
    assert "needs approval" in final["text"]
    (card,) = [
        c for c in bot.slack.calls("chat.postMessage") if c.body["channel"] == "C_PIM_APPROVALS"
    ]
    (actions,) = [b for b in card.body["blocks"] if b["type"] == "actions"]
    return str(actions["elements"][0]["value"])


@pytest.mark.parametrize("clicker", ["U_ALEX", "U_DIEGO", "U_NOMAIL", "U_NOBODY"])
def test_only_a_configured_approver_can_approve(bot: BotStack, clicker: str) -> None:
    request_id = _pending_global_admin(bot)

    assert click(bot, clicker, "approval_approve", request_id) == 200
    time.sleep(0.3)

    assert bot.graph_writes() == 0
    assert bot.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is None
    assert bot.services.store.get_request(request_id).state.value == "pending_approval"


def test_an_approver_can_approve_after_refusals(bot: BotStack) -> None:
    request_id = _pending_global_admin(bot)
    click(bot, "U_ALEX", "approval_approve", request_id)

    click(bot, "U_ADMIN", "approval_approve", request_id)
    deadline = time.monotonic() + 10
    # The sandbox logs a call once it has answered it: wait for the log, not the tenant.
    while bot.graph_writes() < 1:
        assert time.monotonic() < deadline
        time.sleep(0.02)

    assert bot.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is not None
    time.sleep(0.2)  # room for a second write to show up
    assert bot.graph_writes() == 1


@pytest.mark.parametrize(
    "value", ["", "../../etc/passwd", "' OR 1=1 --", "x" * 5000, "req-does-not-exist"]
)
@pytest.mark.parametrize(
    "action_id", ["approval_approve", "reminder_deactivate", "reminder_extend"]
)
def test_button_values_that_are_not_the_clickers_requests_do_nothing(
    bot: BotStack, value: str, action_id: str
) -> None:
    assert click(bot, "U_ADMIN", action_id, value) == 200
    time.sleep(0.1)
    unchanged(bot)


def test_a_button_naming_another_users_live_request_leaves_it_alone(bot: BotStack) -> None:
    assert "active until" in bot.final(bot.command(CARD))["text"]
    record = max(
        bot.services.store.list_requests(slack_user_id="U_ALINE"), key=lambda r: r.created_at
    )
    writes = bot.graph_writes()

    for action in ("reminder_deactivate", "reminder_extend", "approval_approve"):
        click(bot, "U_DIEGO", action, record.id)
    time.sleep(0.3)

    assert bot.graph_writes() == writes
    live = bot.tenant.live_assignment(ALINE.id, USER_ADMIN)
    assert live is not None and live.end == record.end
