"""User text nobody can forge: whatever a requester, an approver, Graph or Slack puts in a
justification, ticket, deny reason or name, what the bot renders around it has exactly the
links, mentions, broadcasts, dates and formatting it has around harmless words
(tests/support/forgery.py). Slack's rules: https://api.slack.com/reference/surfaces/formatting
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block

from bot.domain.audit import AuditKind, event_for
from bot.domain.models import ActiveAssignment, DirectoryUser, Role, RolePolicy, Ticket
from bot.domain.people import slack
from bot.domain.requests import RequestState
from bot.domain.targets import Scope, Target, TargetKind
from bot.errors import InputError
from bot.service.identity import Requester
from bot.service.outcomes import ActiveRole, EligibleRole, Outcome, OutcomeKind, Overview
from bot.service.signins import LinkState
from handlers import blocks
from handlers.blocks import cards
from handlers.blocks import home as home_tab
from handlers.replies import guarded
from tests.support.forgery import shape
from tests.support.records import activation_record

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
HARMLESS = "plain words"
TICKET_URL = "https://tickets.example/browse/{ticket}"
BOLD_FIELD = "*Approved in advance by:* the CISO"
FAKE_LINK = "<https://evil.example|Approve in the Entra portal>"
HOSTILE = [
    BOLD_FIELD,
    FAKE_LINK,
    "<!channel> <!here> <!everyone> <!subteam^S123|@admins> <@U_ADMIN> <#C1|ops>",
    "&lt;!channel&gt; &amp;lt; &amp; <!date^0^{date}|x>",
    "> quoted\n>>> all of it\n```code```\n`tick` _it_ ~no~ *b*",
    "＞ fullwidth ＊b＊ ＿i＿ ｀c｀",
    "https://evil.example/a_b*c*",
]


def renderings(said: str) -> dict[str, dict[str, Any]]:
    """Every surface that shows user or directory text, with `said` in each such field."""
    scope = Scope("/administrativeUnits/au-1", said)
    base = activation_record(
        role_name=said,
        justification=said,
        ticket=Ticket(said, "CONTOSO"),
        scope=scope,
        approval_reason="pimbot.yml requires approval",
    )
    pending = base.with_changes(state=RequestState.PENDING_APPROVAL, start=None, end=None)
    denied = pending.with_changes(
        state=RequestState.DENIED,
        decided_by=slack("U_ADMIN"),
        decided_at=NOW,
        decision_reason=said,
    )
    approved = base.with_changes(decided_by=slack("U_ADMIN"), decided_at=NOW)
    role = Role("role-1", said, said)
    target = Target(TargetKind.DIRECTORY_ROLE, role, scope)
    me = Requester(slack("U_ALINE"), DirectoryUser("7146daa8", said, said), "Europe/Paris")
    assignment = ActiveAssignment(
        "a1",
        TargetKind.DIRECTORY_ROLE,
        role.id,
        "7146daa8",
        scope,
        NOW,
        NOW + timedelta(hours=2),
        "Activated",
    )
    eligible = EligibleRole(target, RolePolicy(timedelta(hours=8), True, True), (said,), said, None)
    view = Overview(me, [eligible], [ActiveRole(role, assignment)], [pending], NOW)
    link = LinkState(slack("U_ALINE"), True, said, said, "e1", NOW)
    audit = event_for(AuditKind.DENIED, denied, at=NOW, actor=slack("U_ADMIN"), detail=said)
    return {
        "card": cards.approval_card(pending, NOW, TICKET_URL),
        "card without ticket url": cards.approval_card(pending, NOW),
        "card denied": cards.approval_card(denied, None, TICKET_URL),
        "decision dm denied": cards.decision_dm(denied, None, "Europe/Paris"),
        "decision dm active": cards.decision_dm(approved, None, "Europe/Paris"),
        "decision dm failed": cards.decision_dm(approved, said, "Europe/Paris"),
        "approved then entra": cards.approved_then_entra(pending),
        "settled": cards.settled_after_restart(
            base.with_changes(state=RequestState.FAILED, error=said)
        ),
        "reminder": blocks.reminder(base, NOW, "Europe/Paris"),
        "ended": blocks.ended(base, said),
        "audit post": cards.audit_post(audit),
        "audit line": {"text": cards.audit_line(audit)},
        "outcome": blocks.outcome(Outcome(OutcomeKind.ACTIVATED, me, target, base, base.end, said)),
        "pending outcome": blocks.outcome(
            Outcome(OutcomeKind.PENDING_APPROVAL, me, target, pending)
        ),
        "overview": blocks.overview(view),
        "home": home_tab.home(view, link),
    }


HARMLESS_SHAPES = {name: shape(payload) for name, payload in renderings(HARMLESS).items()}


def assert_nothing_forged(said: str) -> None:
    for name, payload in renderings(said).items():
        assert shape(payload) == HARMLESS_SHAPES[name], name


@pytest.mark.parametrize("said", HOSTILE)
def test_no_slack_markup_survives_from_known_exploits(said: str) -> None:
    assert_nothing_forged(said)


MARKUP = ["*", "_", "~", "`", "<", ">", "&", "|", "!", "@", "#", "^", "\n", "http://x", "amp;"]
MARKUP += ["lt;", "gt;", "date", "channel", "here", " ", "a", "＞", "＊", "＿", "｀", "\u00ad"]


ANY_TEXT = st.text(min_size=1, max_size=300)
MARKUP_HEAVY = st.lists(st.sampled_from(MARKUP), min_size=1, max_size=40).map("".join)


@settings(max_examples=30, deadline=None)  # about 15 ms an example: the slow run does more
@given(ANY_TEXT | MARKUP_HEAVY)
def test_no_link_mention_broadcast_or_formatting_comes_from_user_text(said: str) -> None:
    assert_nothing_forged(said)


@pytest.mark.slow
@settings(max_examples=1500, deadline=None)
@given(ANY_TEXT | MARKUP_HEAVY)
def test_no_link_mention_broadcast_or_formatting_comes_from_user_text_at_length(
    said: str,
) -> None:
    assert_nothing_forged(said)


@pytest.mark.parametrize("forged", [BOLD_FIELD, FAKE_LINK, "<!channel>", "\n> quote", "`x`"])
def test_the_checker_sees_markup_that_reached_mrkdwn(forged: str) -> None:
    harmless = blocks.message(f"Justification: {HARMLESS}")

    assert shape(blocks.message(f"Justification: {forged}")) != shape(harmless)
    assert shape({"text": "x", "blocks": [blocks.context(forged)]}) != shape(
        {"text": "x", "blocks": [blocks.context(HARMLESS)]}
    )


async def test_a_refusal_quoting_what_the_user_typed_links_and_mentions_nothing() -> None:
    sent: list[dict[str, Any]] = []

    async def reply(msg: dict[str, Any]) -> None:
        sent.append(msg)

    async def work() -> dict[str, Any]:
        raise InputError("I don't know the role `<!channel> <https://evil.example|x>`.")

    assert not await guarded(reply, work)
    [msg] = sent
    assert "&lt;!channel&gt; &lt;https://evil.example|x&gt;" in msg["text"]
    assert shape(msg).tokens == ()


@pytest.mark.parametrize("said", HOSTILE)
def test_every_block_holding_user_text_is_one_slack_sdk_accepts_as_is(said: str) -> None:
    for name, payload in renderings(said).items():
        for block in payload.get("blocks", []):
            parsed = Block.parse(block)  # slack_sdk's own models and limits
            assert parsed is not None, name
            parsed.validate_json()
            assert parsed.to_dict() == block, name
