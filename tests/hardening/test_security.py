"""Hostile and malformed input over real HTTP: each is refused (or does only what the
payload's own user may do), never shows a trace, and changes nothing in the sandbox."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import httpx
import pytest

from bot.domain.people import slack
from tests.support.cast import ALINE, CARD, GLOBAL_ADMIN, USER_ADMIN
from tests.support.signing import command_body, signed_headers
from tests.support.stack import GRAPH_WRITES, BotStack


def unchanged(bot: BotStack) -> None:
    """No Graph write, and no activated assignment in the tenant (only the seed's)."""
    assert bot.graph_writes() == 0
    assert all(a.assignment_type != "Activated" for a in bot.tenant.live_assignments())


def refused(bot: BotStack, url: str) -> str:
    """The ephemeral refusal a click got: the positive signal that the bot is done with it."""
    said = bot.said(url)
    assert said.startswith(":warning:"), said
    return said


@pytest.mark.slow
def test_a_forged_signature_is_refused_and_nothing_happens(bot: BotStack) -> None:
    url = bot.slack.response_url()
    body = command_body(CARD, user_id="U_ALINE", response_url=url)
    headers = signed_headers("not-the-signing-secret", body)

    reply = bot.post(body, headers, url)

    assert reply.status == 401
    # Positive signal: the same command, signed right, runs to its end after it. It is
    # the first activation (not "already active") and the only write, and nothing was
    # posted to the forged request's response_url: the forged request did nothing.
    assert "active until" in bot.final(bot.command(CARD))["text"]
    assert bot.graph_writes() == 1
    assert bot.slack.responses(url) == []


def test_a_replayed_old_request_is_refused(bot: BotStack) -> None:
    url = bot.slack.response_url()
    body = command_body(CARD, user_id="U_ALINE", response_url=url)
    headers = bot.signed(body, timestamp=time.time() - 6 * 60)  # signed, but 6 min old

    assert bot.post(body, headers, url).status == 401
    unchanged(bot)


@pytest.mark.slow
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
    # The replay's POST reached Graph, which refused the duplicate (RoleAssignmentExists).
    assert bot.granted_writes() == 1
    assert len([a for a in bot.tenant.live_assignments() if a.principal_id == ALINE.id]) == 1


@pytest.mark.slow
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

    assert final["text"].startswith(
        ":warning: The justification can't mention people or channels"
    ), final["text"]
    unchanged(bot)


def test_a_requester_not_mapped_to_any_entra_user_is_refused(bot: BotStack) -> None:
    final = bot.final(bot.command(CARD, user="U_NOMAIL"))

    assert final["text"].startswith(
        ":warning: I can't see a verified email on your Slack profile"
    ), final["text"]
    assert "`U_NOMAIL: you@yourcompany.com` under `users:`" in final["text"]
    assert "Traceback" not in str(final)
    unchanged(bot)


def test_an_unknown_slack_user_is_refused(bot: BotStack) -> None:
    final = bot.final(bot.command(CARD, user="U_NOBODY"))

    assert final["text"] == ":warning: Slack doesn't know user U_NOBODY."
    unchanged(bot)


FORM = None  # no refusal: an empty ack, and the activation form opens instead


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "activate user-admin 5h CONTOSO:Security-012345 " + "x" * 10_000,
            ":warning: The justification is too long (10000 characters)",
        ),
        (
            "activate user-admin 5h CONTOSO:Security-012345 \x00\x1b[31m\x07 reason\u202e",
            ":warning: The justification contains control characters",
        ),
        ("activate " + "a" * 10_000, FORM),
        (
            "activate user-admin 99999999999999999999h CONTOSO:Security-012345 big duration",
            ":information_source: `99999999999999999999…` is not a duration.",
        ),
        ("\x00" * 100, ":information_source: There is no command `\x00"),
        (
            "activate user-admin -5h CONTOSO:Security-012345 negative duration",
            ":information_source: A duration can't be negative: `-5h`.",
        ),
        (
            "activate user-admin 5h " + "CONTOSO:Security-0123456789" * 400 + " long ticket",
            ":information_source: `CONTOSO:Security-0123456789CON…` looks like a ticket number",
        ),
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
def test_overlong_and_malformed_text_is_refused_without_a_trace(
    bot: BotStack, text: str, reason: str | None
) -> None:
    reply = bot.command(text)

    assert reply.status == 200
    if reason is FORM:
        assert reply.body == {}
        (opened,) = bot.slack.wait_for("views.open")
        assert len(json.dumps(opened.body)) < 50_000
        assert "a" * 3001 not in json.dumps(opened.body)
    else:
        shown = bot.final(reply)["text"] if "Working on it" in reply.text else reply.text
        assert shown.startswith(reason), shown
        assert "Traceback" not in shown
    unchanged(bot)


def test_line_breaks_in_a_justification_reach_graph_as_data(bot: BotStack) -> None:
    text = "activate user-admin 5h CONTOSO:Security-012345 ok\r\n\r\nX-Injected: yes"

    final = bot.final(bot.command(text))

    assert "active until" in final["text"]
    (write,) = bot.faults.find("POST", GRAPH_WRITES)
    assert "X-Injected: yes" in write.request_body["justification"]
    assert write.request_body["principalId"] == ALINE.id


MALFORMED = {  # id: (body, the status it should get)
    "bad-json": (urlencode({"payload": "{not json"}), 400),
    "json-list": (urlencode({"payload": json.dumps([1, 2, 3])}), 400),
    "missing-fields": (urlencode({"payload": json.dumps({"type": "block_actions"})}), 404),
    "unknown-action": (
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
        404,
    ),
    "20kB-junk": (urlencode({"payload": "x" * 20_000}), 400),
}


@pytest.mark.parametrize("body", [b for b, _ in MALFORMED.values()], ids=list(MALFORMED))
def test_malformed_interaction_payloads_change_nothing(bot: BotStack, body: str) -> None:
    answer = _post_malformed(bot, body)

    # Bolt answers these itself (404: no listener matches; 400: unreadable) before any
    # listener could be scheduled: the answer is the sign that the request is over.
    assert answer.status_code >= 400 and "Traceback" not in answer.text
    unchanged(bot)


@pytest.mark.parametrize(
    ("body", "status"),
    [pytest.param(body, status, id=name) for name, (body, status) in MALFORMED.items()],
)
def test_malformed_interaction_payloads_get_the_right_client_error(
    bot: BotStack, body: str, status: int
) -> None:
    answer = _post_malformed(bot, body)

    assert answer.status_code == status, answer.text


@pytest.mark.parametrize("body", [b for b, _ in MALFORMED.values()], ids=list(MALFORMED))
def test_an_unsigned_request_is_refused_before_its_body_is_read(
    bot: BotStack, body: str, caplog: pytest.LogCaptureFixture
) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}  # no signature at all
    forged = {**bot.signed(body), "X-Slack-Signature": "v0=" + "0" * 64}

    answers = [
        httpx.post(f"{bot.bot.url}/slack/events", content=body, headers=h, timeout=30)
        for h in (headers, forged)
    ]

    assert [a.status_code for a in answers] == [401, 401]
    assert "Traceback" not in caplog.text and "Exception in ASGI" not in caplog.text
    unchanged(bot)


def _post_malformed(bot: BotStack, body: str) -> httpx.Response:
    # A connection of its own: one the server drops must not fail the next test.
    return httpx.post(
        f"{bot.bot.url}/slack/events", content=body, headers=bot.signed(body), timeout=30
    )


def _pending_global_admin(bot: BotStack) -> str:
    final = bot.final(bot.command("activate global-admin 1h need tenant-wide settings change"))
    assert "needs approval" in final["text"]
    (card,) = [
        c for c in bot.slack.calls("chat.postMessage") if c.body["channel"] == "C_PIM_APPROVALS"
    ]
    (actions,) = [b for b in card.body["blocks"] if b["type"] == "actions"]
    return str(actions["elements"][0]["value"])


@pytest.mark.parametrize(
    ("clicker", "reason"),
    [
        ("U_NOMAIL", "I can't see a verified email on your Slack profile"),
        ("U_NOBODY", "Slack doesn't know user U_NOBODY."),
        ("U_NESTOR", "Your Slack account is deactivated"),
    ],
)
def test_someone_who_may_not_use_the_bot_cannot_approve(
    bot: BotStack, clicker: str, reason: str
) -> None:
    request_id = _pending_global_admin(bot)

    url = bot.click(clicker, "approval_approve", request_id)

    assert reason in refused(bot, url)
    assert bot.graph_writes() == 0
    assert bot.services.store.get_request(request_id).state.value == "pending_approval"


@pytest.mark.parametrize("clicker", ["U_ALEX", "U_DIEGO"])
def test_only_a_configured_approver_can_approve(bot: BotStack, clicker: str) -> None:
    request_id = _pending_global_admin(bot)

    url = bot.click(clicker, "approval_approve", request_id)

    assert refused(bot, url) == (
        ":warning: You can't decide this request, because you are not an approver for "
        "Global Administrator."
    )
    assert bot.graph_writes() == 0
    assert bot.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is None
    assert bot.services.store.get_request(request_id).state.value == "pending_approval"


def test_an_approver_can_approve_after_refusals(bot: BotStack) -> None:
    request_id = _pending_global_admin(bot)
    assert "not an approver" in refused(bot, bot.click("U_ALEX", "approval_approve", request_id))

    first = bot.said(bot.click("U_ADMIN", "approval_approve", request_id))
    # The repository's pimbot.yml: Global Administrator needs two approvers.
    assert "(1 of 2 approvals)" in first, first
    assert bot.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is None
    said = bot.said(bot.click("U_MEGAN", "approval_approve", request_id))

    # The approver is told once the activation has run: every write is in by then.
    assert said.startswith(f"You approved `{request_id}`"), said
    assert bot.tenant.live_assignment(ALINE.id, GLOBAL_ADMIN) is not None
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
    url = bot.click("U_ADMIN", action_id, value)

    # The refusal is the sign the bot is done: an ephemeral line in the click's reply, the
    # clicked message left as it was (its buttons were not the clicker's to use).
    said = refused(bot, url)
    if action_id == "approval_approve":
        assert said.startswith(f":warning: There is no request `{value[:50]}")
    elif " " not in value:  # an Extend's value is "<id> <duration> <end>": a space splits it
        assert said.startswith(f":warning: You have no request `{value[:50]}")
    assert not any(r.get("replace_original") for r in bot.slack.responses(url))
    unchanged(bot)


@pytest.mark.slow
def test_a_button_naming_another_users_live_request_leaves_it_alone(bot: BotStack) -> None:
    assert "active until" in bot.final(bot.command(CARD))["text"]
    record = max(
        bot.services.store.list_requests(requester=slack("U_ALINE")), key=lambda r: r.created_at
    )
    writes = bot.graph_writes()

    urls = [bot.click("U_DIEGO", a, record.id) for a in ("reminder_deactivate", "reminder_extend")]
    said = bot.said(bot.click("U_DIEGO", "approval_approve", record.id))

    # Each click was refused, and the refusals are the sign the bot is done with them.
    assert said == f":warning: Request `{record.id}` is active; there is nothing to decide."
    for url in urls:
        assert bot.said(url).startswith(f":warning: You have no request `{record.id}`")
    assert bot.graph_writes() == writes
    live = bot.tenant.live_assignment(ALINE.id, USER_ADMIN)
    assert live is not None and live.end == record.end
