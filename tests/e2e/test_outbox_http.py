"""Issue #14 over real HTTP: a decision stands whatever Slack does afterwards (the
requester is told first, the card redrawn after, each retried on its own), and a card
Slack refuses (`not_in_channel`, https://api.slack.com/methods/chat.postMessage#errors)
is explained to the requester, audited, and posted once an admin fixed the channel."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.domain.audit import AuditKind
from bot.domain.requests import RequestState
from handlers.outbox import FIXABLE_RETRY
from tests.support.approval_stack import PENDING, ApprovalStack, GroupSlack
from tests.support.slack import FakeSlack

pytestmark = pytest.mark.slow  # a whole stack each, and the courier's one-second polls

APPROVALS = "C_PIM_APPROVALS"


class NoWaitSlack(GroupSlack):
    """The approvals' fake Slack, its 429s asking for no wait (`Retry-After: 0`)."""

    RETRY_AFTER = "0"


class OutboxStack(ApprovalStack):
    def _fake_slack(self) -> FakeSlack:
        return NoWaitSlack()

    @property
    def fake(self) -> NoWaitSlack:
        assert isinstance(self.slack, NoWaitSlack)
        return self.slack

    def request(self) -> str:
        final = self.final(self.command(PENDING))
        assert "needs approval" in final["text"], final
        return str(final["text"].split("Your request `")[1].split("`")[0])

    def state(self, request_id: str) -> RequestState:
        record = self.services.store.get_request(request_id)
        assert record is not None
        return record.state


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[OutboxStack]:
    with OutboxStack(tmp_path) as stack:
        yield stack


def _index(calls: list[Any], method: str, needle: str) -> int:
    return next(
        i for i, c in enumerate(calls) if c.method == method and needle in json.dumps(c.body)
    )


def test_the_requester_hears_the_decision_before_the_card_is_redrawn(bot: OutboxStack) -> None:
    request_id = bot.request()

    bot.said(bot.click("U_ADMIN", "approval_approve", request_id))
    bot.dm("U_ALINE", "and is active until")
    bot.card_updates(request_id)

    calls = bot.slack.calls()
    told = _index(calls, "chat.postMessage", "and is active until")
    assert calls[told].body["channel"] == "D_U_ALINE"
    assert told < _index(calls, "chat.update", request_id)


def test_a_decision_stands_and_still_arrives_when_slack_fails_right_after_it(
    bot: OutboxStack,
) -> None:
    request_id = bot.request()
    # Each call below fails twice: the SDK's one retry is spent, the outbox's are not.
    bot.slack.rate_limit("chat.postMessage", times=4)
    bot.slack.rate_limit("chat.update", times=2)

    bot.said(bot.click("U_ADMIN", "approval_approve", request_id))

    assert bot.state(request_id) is RequestState.ACTIVE
    bot.dm("U_ALINE", "and is active until")
    assert "Approved" in json.dumps(bot.card_updates(request_id)[-1]["blocks"])
    time.sleep(1.5)  # a courier poll or more: nothing is sent a second time
    assert len(bot.dms("U_ALINE", "and is active until")) == 1


def test_a_card_the_bot_may_not_post_is_explained_then_posted_once_the_bot_is_invited(
    bot: OutboxStack,
) -> None:
    bot.fake.refuse[APPROVALS] = "not_in_channel"

    request_id = bot.request()

    told = bot.dm("U_ALINE", "could not be posted")["text"]
    assert request_id in told and f"#{APPROVALS}" in told
    assert "the bot is not in that channel" in told and "`/invite`" in told
    audited = [e for e in bot.services.store.audit_events() if e.kind is AuditKind.CARD_NOT_POSTED]
    assert [e.request_id for e in audited] == [request_id]
    assert bot.state(request_id) is RequestState.PENDING_APPROVAL

    bot.fake.refuse.clear()  # an admin typed /invite @pimbot
    bot.sweep(advance=FIXABLE_RETRY.total_seconds())
    ref = _posted_card(bot, request_id)
    (card,) = [
        c.body for c in bot.slack.calls("chat.postMessage") if c.body["channel"] == APPROVALS
    ][-1:]
    assert request_id in json.dumps(card["blocks"]) and '"actions"' in json.dumps(card["blocks"])

    bot.said(bot.click("U_ADMIN", "approval_approve", request_id))
    (update,) = bot.card_updates(request_id)
    record = bot.services.store.get_request(request_id)
    assert record is not None and record.card == ref == f"{APPROVALS} {update['ts']}"
    assert len(bot.dms("U_ALINE", "could not be posted")) == 1


def _posted_card(bot: OutboxStack, request_id: str) -> str:
    """The card's reference once the courier posted it (Slack's "channel ts")."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        record = bot.services.store.get_request(request_id)
        if record is not None and record.card and not record.card.endswith(" queued"):
            return record.card
        time.sleep(0.05)
    raise AssertionError(f"the card of {request_id} was never posted")
