"""Issue #14's "done when": with the Web API answering 429 to every second call, every
card, DM, reminder and audit line still arrives, exactly once.

Slack answers a method called too often with HTTP 429 and `Retry-After` (seconds), and
allows chat.postMessage about one message per second per channel
(https://api.slack.com/apis/rate-limits). Here a fake Slack Web API over real HTTP limits
every second call, whatever the method, for the whole test: two requests, an approval
(decision DM, card redrawn), a cancellation, the reminder and the ended notice, over
more than an hour of the bot's clock (moved, not slept). `Retry-After: 0` keeps the
SDK's own waits under a second; the bot paces itself as it does in production.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.store.tables import outbox
from handlers.outbox import Pace
from tests.support.approval_stack import PENDING, ApprovalStack, GroupSlack
from tests.support.slack import FakeSlack

pytestmark = pytest.mark.slow  # about half a second per 429 (the SDK's jittered wait)

MINUTE = 60.0
APPROVALS, AUDIT = "C_PIM_APPROVALS", "C_PIM_AUDIT"


class EverySecondCallLimited(GroupSlack):
    """Answers 429 to every second Web API call; keeps the calls it accepted."""

    RETRY_AFTER = "0"  # Slack says seconds; 0 keeps the SDK's jittered wait under one

    def __init__(self) -> None:
        super().__init__()
        self._web_calls = 0
        self.limited = 0
        self.accepted: list[tuple[str, dict[str, Any]]] = []

    def _record(self, method: str, body: dict[str, Any]) -> bool:
        super()._record(method, body)
        if method.startswith("response_url:"):
            return False
        with self._lock:
            self._web_calls += 1
            limited = self._web_calls % 2 == 0
            if limited:
                self.limited += 1
            else:
                self.accepted.append((method, body))
            return limited

    def posted(self, channel_prefix: str) -> list[dict[str, Any]]:
        with self._lock:
            return [
                b
                for m, b in self.accepted
                if m == "chat.postMessage" and str(b["channel"]).startswith(channel_prefix)
            ]


class LimitedStack(ApprovalStack):
    def _fake_slack(self) -> FakeSlack:
        return EverySecondCallLimited()

    def _pace(self) -> Pace:
        return Pace()  # Slack's: one a second per channel after a short burst

    @property
    def fake(self) -> EverySecondCallLimited:
        assert isinstance(self.slack, EverySecondCallLimited)
        return self.slack

    def settled(self) -> None:
        """Wait until the outbox holds nothing pending (the courier retries on its own)."""
        query = sa.select(sa.func.count()).where(outbox.c.state != "delivered")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with self.services.store.engine.connect() as conn:  # type: ignore[attr-defined]
                if conn.execute(query).scalar() == 0:
                    return
            time.sleep(0.05)
        raise AssertionError("the outbox never emptied")

    def request(self, text: str = PENDING, user: str = "U_ALINE") -> str:
        final = self.final(self.command(text, user=user), timeout=60)
        assert "needs approval" in final["text"], final
        return str(final["text"].split("Your request `")[1].split("`")[0])


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[LimitedStack]:
    with LimitedStack(tmp_path) as stack:
        yield stack


TEAMS = "activate teams-admin 1h need to fix a meeting policy"


def _mentions(bodies: list[dict[str, Any]], needle: str) -> int:
    return sum(needle in json.dumps(b) for b in bodies)


def test_every_card_dm_reminder_and_audit_line_arrives_exactly_once_through_429s(
    bot: LimitedStack,
) -> None:
    # Two live requests of one person must be for different roles (one per role and scope).
    approved, cancelled = bot.request(), bot.request(TEAMS)
    said = bot.said(bot.click("U_ADMIN", "approval_approve", approved), timeout=60)
    assert said.startswith(f"You approved `{approved}`"), said  # through Slack's 429s too
    bot.final(bot.command(f"cancel {cancelled}"), timeout=60)
    bot.settled()
    bot.sweep(advance=46 * MINUTE)  # 15 minutes before the hour ends: the reminder
    bot.settled()
    bot.sweep(advance=15 * MINUTE)  # the hour is over: the ended notice
    bot.settled()

    slack = bot.fake
    assert slack.limited >= 10  # Slack really did refuse half the calls
    cards = slack.posted(APPROVALS)
    assert _mentions(cards, approved) == 1 and _mentions(cards, cancelled) == 1
    updates = [b for m, b in slack.accepted if m == "chat.update"]
    assert _mentions(updates, approved) >= 1 and _mentions(updates, cancelled) == 1
    aline = [b["text"] for b in slack.posted("D_U_ALINE")]
    assert sum("and is active until" in t for t in aline) == 1
    assert sum("ends in" in t for t in aline) == 1
    assert sum("has ended" in t for t in aline) == 1
    audited = bot.services.store.audit_events()
    # the trail's copies (the seeded standing roles show as outside pimbot: not events)
    lines = [
        line  # lines queued together go out as one message, a line each
        for b in slack.posted(AUDIT)
        for line in b["text"].split("\n")
        if "Outside pimbot" not in line and not b["text"].startswith("Who is elevated")
    ]
    assert len(lines) == len(audited) >= 6
    assert all(Counter(lines)[line] == 1 for line in lines)
    accepted = [
        json.dumps([m, b], sort_keys=True) for m, b in slack.accepted if m.startswith("chat.")
    ]
    assert len(accepted) == len(set(accepted))  # nothing Slack accepted was sent again
