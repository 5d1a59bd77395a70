"""The audit channel's line names the actor (`by`) and the subject (`for`) apart, shows the
activation's span and time held, and keeps the requester's text as text."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.domain.audit import AuditKind, event_for
from bot.domain.people import slack
from bot.domain.requests import RequestState
from handlers.blocks import cards
from tests.support.records import NOW, activation_record

ADMIN = slack("U_ADMIN")


def test_an_approval_is_by_the_approver_for_the_requester() -> None:
    waiting = activation_record(state=RequestState.APPROVED, start=None, end=None)

    posted = cards.audit_post(event_for(AuditKind.APPROVED, waiting, at=NOW, actor=ADMIN))

    head = posted["blocks"][0]["elements"][0]["text"]
    assert head.endswith(" · approved · by <@U_ADMIN> · for <@U_ALINE>")
    assert "held" not in posted["text"] and "active from" not in posted["text"]


def test_an_end_pimbot_saw_is_by_no_one_and_says_how_long_the_role_was_held() -> None:
    ended = activation_record(state=RequestState.ENDED, end=NOW + timedelta(minutes=40))

    posted = cards.audit_post(
        event_for(AuditKind.ENDED, ended, at=NOW + timedelta(hours=1), actor=None)
    )

    head, facts = posted["blocks"][0]["elements"]
    assert head["text"].endswith(" · ended · for <@U_ALINE>") and " by " not in head["text"]
    assert facts["type"] == "plain_text"
    assert "active from 2026-11-29 09:00:00 to 2026-11-29 09:40:00 UTC" in facts["text"]
    assert "held 40 minutes" in facts["text"]


def test_a_justification_with_a_mention_is_posted_as_text_never_as_a_ping() -> None:
    typed = "<@U123> *bold* & more"
    event = event_for(
        AuditKind.REQUESTED, activation_record(justification=typed), at=NOW, actor=slack("U_ALINE")
    )

    posted = cards.audit_post(event)

    (facts,) = [e for e in posted["blocks"][0]["elements"] if e["type"] == "plain_text"]
    assert f"“{typed}”" in facts["text"]  # shown as typed, in a text object Slack won't parse
    assert "<@U123>" not in posted["text"] and "<@U123>" not in json.dumps(
        [e for e in posted["blocks"][0]["elements"] if e["type"] == "mrkdwn"]
    )
