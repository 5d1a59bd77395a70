"""User text nobody can forge, over real HTTP: a signed `/pim` command and a signed Deny
submission reach the bot, and what it posts to the fake Slack Web API (approval card,
decision DM, audit channel) carries the user's words only as text Slack never parses.

Slash-command text arrives HTML-escaped (`&amp;`, `&lt;`, `&gt;`, the escaping of
https://api.slack.com/reference/surfaces/formatting#escaping); the parser unescapes it
once (bot/domain/command_text.py) and the builders escape it once on the way out.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.approval_stack import ApprovalStack
from tests.support.forgery import shape
from tests.support.payloads import deny_submission

TYPED = "*Approved in advance by:* the CISO, R&D <https://evil.example|Approve in the Entra portal>"
REASON = "<!channel> *URGENT* _denied_ <!here> see <https://evil.example|the policy>"


def slack_escaped(text: str) -> str:
    """Text as Slack puts it in a slash command's `text`."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApprovalStack]:
    with ApprovalStack(Path(tmp_path_factory.mktemp("user-text"))) as stack:
        yield stack


@pytest.fixture
def bot(running: ApprovalStack) -> ApprovalStack:
    running.reset()
    return running


def mrkdwn(payload: dict[str, Any]) -> str:
    """Everything Slack parses as mrkdwn: the notification text and mrkdwn text objects."""
    found = [payload.get("text", "")]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(payload.get("blocks"))
    return "\n".join(found)


def quoted(payload: dict[str, Any]) -> list[str]:
    """The texts of the payload's rich-text quotes, as Slack shows them."""
    return [
        element["elements"][0]["text"]
        for block in payload.get("blocks", [])
        if block["type"] == "rich_text"
        for element in block["elements"]
        if element["type"] == "rich_text_quote"
    ]


def audit_posts(bot: ApprovalStack, fragment: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        posted = [
            c.body
            for c in bot.slack.calls("chat.postMessage")
            if c.body["channel"] == "C_PIM_AUDIT" and fragment in c.body["text"]
        ]
        if posted:
            return posted
        time.sleep(0.02)
    raise AssertionError(f"no audit post with {fragment!r}")


@pytest.mark.slow
def test_a_justification_cannot_pose_as_a_field_or_a_link_on_the_card(bot: ApprovalStack) -> None:
    text = f"activate global-admin 1h CONTOSO:Security-012345 {TYPED}"

    _, card = bot.pending(slack_escaped(text))

    assert quoted(card) == [TYPED]  # as typed: unescaped once, never double-escaped
    parsed = mrkdwn(card)
    assert "<https://evil" not in parsed and "*Approved in advance" not in parsed
    assert shape(card).tokens.count("link") == 1  # the ticket's, below
    assert "<https://tickets.contoso.example/browse/CONTOSO%3ASecurity-012345|" in parsed
    (posted,) = audit_posts(bot, " · pending_approval · ")
    assert "<https://evil" not in mrkdwn(posted) and "R&amp;D" in posted["text"]
    assert "&amp;amp;" not in posted["text"]
    facts = posted["blocks"][0]["elements"][1]
    assert facts["type"] == "plain_text" and f"“{TYPED}”" in facts["text"]


@pytest.mark.slow
def test_a_deny_reason_pings_nobody_and_the_requester_learns_who_denied(
    bot: ApprovalStack,
) -> None:
    request_id, _ = bot.pending()
    bot.click("U_ADMIN", "approval_deny", request_id)
    (opened,) = bot.slack.wait_for("views.open")

    answer = bot.interact(deny_submission(opened.body["view"], "U_ADMIN", REASON))

    assert answer.status == 200
    told = bot.dm("U_ALINE", "Denied")
    assert f"Your request `{request_id}`" in told["text"] and "Denied by <@U_ADMIN>" in told["text"]
    assert quoted(told) == [REASON]
    card = bot.card_updates(request_id)[-1]
    assert quoted(card) == ["need tenant-wide settings change", REASON]
    (posted,) = audit_posts(bot, " · denied · ")
    assert REASON in posted["blocks"][0]["elements"][1]["text"]  # plain_text: never parsed
    for payload in (told, card, posted):
        parsed = mrkdwn(payload)
        assert "<!channel>" not in parsed and "<!here>" not in parsed, parsed
        assert "<https://evil" not in parsed and "*URGENT*" not in parsed
        assert all(t in {"@U_ADMIN", "@U_ALINE", "date"} for t in shape(payload).tokens)
    assert mrkdwn(posted).count("<!") == 2  # the time, as <!date^…>, in text and block
