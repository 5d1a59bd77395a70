"""The outbox courier against a fake Slack Web API over real HTTP, on SQLite and PostgreSQL:
order per channel, pacing, Retry-After, restarts, nothing marked sent before `ok: true`,
and what happens to errors that retrying will not fix.

Slack: chat.postMessage allows about one message per second per channel, with bursts
(https://api.slack.com/methods/chat.postMessage#rate_limiting,
https://api.slack.com/apis/rate-limits); a 429 carries `Retry-After` in seconds; errors
come as HTTP 200 `{"ok": false, "error": …}` (https://api.slack.com/web#responses).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.audit import AuditKind
from bot.domain.requests import RequestState
from bot.settings import ChannelsConfig, PolicyFile
from bot.store import SqlStore
from bot.store.tables import outbox as outbox_table
from handlers.outbox import FIXABLE_RETRY, Courier, Pace
from tests.support.cast import ALINE
from tests.support.clock import FakeClock
from tests.support.outbox import courier_for
from tests.support.records import NOW, activation_record
from tests.support.slack import FakeSlack

CONFIG = PolicyFile(channels=ChannelsConfig(approvals="C_APPROVALS", audit="C_AUDIT"))
PENDING = activation_record(state=RequestState.PENDING_APPROVAL, start=None, end=None)
CARD = {"text": "card", "blocks": None}


class ScriptedSlack(FakeSlack):
    """FakeSlack that can be slow to answer."""

    def __init__(self) -> None:
        super().__init__()
        self.delay = 0.0

    def answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        time.sleep(self.delay)
        return super().answer(method, body)

    def reset(self) -> None:
        super().reset()
        self.delay = 0.0


@pytest.fixture(scope="module")
def server() -> Iterator[ScriptedSlack]:
    with ScriptedSlack() as slack:
        yield slack


@pytest.fixture
def slack(server: ScriptedSlack) -> ScriptedSlack:
    server.reset()
    return server


def client(slack: FakeSlack) -> AsyncWebClient:
    """No SDK retry handlers: the courier itself must see every 429 and error."""
    return AsyncWebClient(token="xoxb-outbox", base_url=slack.api_url)


def courier(
    slack: FakeSlack, store: SqlStore, clock: FakeClock, pace: Pace | None = None
) -> Courier:
    return courier_for(client(slack), CONFIG, store, clock, pace or Pace(100.0, 100.0))


def texts(slack: FakeSlack, channel: str, method: str = "chat.postMessage") -> list[str]:
    return [str(c.body["text"]) for c in slack.calls(method) if c.body["channel"] == channel]


def states(store: SqlStore) -> list[str]:
    query = sa.select(outbox_table.c.state).order_by(outbox_table.c.id)
    with store.engine.connect() as conn:
        return list(conn.execute(query).scalars())


def msg(text: str) -> dict[str, Any]:
    return {"text": text, "blocks": None}


async def test_one_channel_is_paced_and_in_order_while_another_goes_on(
    slack: ScriptedSlack, store: SqlStore, clock: FakeClock
) -> None:
    box = courier(slack, store, clock, Pace(per_second=1.0, burst=2.0))

    for n in range(4):
        await box.post("C_ONE", msg(f"one-{n}"))
    await box.post("C_TWO", msg("two-0"))

    assert texts(slack, "C_ONE") == ["one-0", "one-1"]  # the burst; the rest waits its turn
    assert texts(slack, "C_TWO") == ["two-0"]
    await box.drain()
    assert texts(slack, "C_ONE") == ["one-0", "one-1"]  # no time has passed
    clock.advance(1.0)
    await box.drain()
    assert texts(slack, "C_ONE") == ["one-0", "one-1", "one-2"]
    clock.advance(1.0)
    await box.drain()
    assert texts(slack, "C_ONE") == ["one-0", "one-1", "one-2", "one-3"]
    assert states(store) == ["delivered"] * 5
    await box.aclose()


async def test_a_429_waits_for_retry_after_and_what_follows_waits_behind_it(
    slack: ScriptedSlack, store: SqlStore, clock: FakeClock
) -> None:
    box = courier(slack, store, clock)
    slack.rate_limit("chat.postMessage", times=1)  # FakeSlack says Retry-After: 1

    await box.post("C_ONE", msg("first"))
    await box.post("C_ONE", msg("second"))
    await box.drain()

    assert texts(slack, "C_ONE") == ["first"]  # the one 429 answer; nothing since
    assert states(store) == ["pending", "pending"]
    clock.advance(1.0)
    await box.drain()
    assert texts(slack, "C_ONE") == ["first", "first", "second"]
    assert states(store) == ["delivered", "delivered"]
    await box.aclose()


async def test_nothing_is_marked_sent_before_slack_said_ok(
    slack: ScriptedSlack, store: SqlStore, clock: FakeClock
) -> None:
    box = courier(slack, store, clock)
    slack.refuse["C_ONE"] = "internal_error"  # Slack's own "try again"

    await box.dm(ALINE.key, msg("for Aline"))
    await box.post("C_ONE", msg("kept"))

    assert states(store) == ["delivered", "pending"]
    slack.refuse.clear()
    clock.advance(timedelta(minutes=1))
    await box.drain()
    assert texts(slack, "C_ONE") == ["kept", "kept"]
    assert states(store) == ["delivered", "delivered"]
    await box.aclose()


async def test_a_restart_sends_what_the_last_run_left_pending(
    slack: ScriptedSlack, store: SqlStore, clock: FakeClock
) -> None:
    dead = AsyncWebClient(token="xoxb-outbox", base_url="http://127.0.0.1:9/api/")
    before = courier_for(dead, CONFIG, store, clock)
    await before.post("C_ONE", msg("across the restart"))
    await before.aclose()
    assert states(store) == ["pending"]  # connection refused: kept for later

    clock.advance(timedelta(minutes=1))
    after = courier(slack, SqlStore(store.engine, clock=clock), clock)
    await after.start()  # what `Services.start` does on boot
    for _ in range(500):
        if states(store) == ["delivered"]:
            break
        await asyncio.sleep(0.01)

    assert texts(slack, "C_ONE") == ["across the restart"]
    assert states(store) == ["delivered"]
    await after.aclose()


async def test_a_send_cut_off_mid_call_is_sent_again_not_lost(
    slack: ScriptedSlack, store: SqlStore, clock: FakeClock
) -> None:
    """At least once: a process stopped while Slack was answering has no `ok` yet, so
    the message stays pending and the next run sends it (Slack may then show it twice)."""
    box = courier(slack, store, clock)
    slack.delay = 0.3
    sending = asyncio.create_task(box.post("C_ONE", msg("cut off")))
    while not slack.calls("chat.postMessage"):  # noqa: ASYNC110 - the fake's own thread
        await asyncio.sleep(0.01)
    sending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sending
    await box.aclose()  # the process stopped: its background sender too
    assert states(store) == ["pending"]

    slack.delay = 0.0
    await courier(slack, store, clock).drain()
    assert states(store) == ["delivered"]
    assert texts(slack, "C_ONE")[-1] == "cut off"


async def test_an_error_retrying_cannot_fix_is_given_up_and_the_channel_goes_on(
    slack: ScriptedSlack, store: SqlStore, clock: FakeClock
) -> None:
    box = courier(slack, store, clock)
    slack.refuse["C_ONE"] = "invalid_blocks"

    await box.post("C_ONE", msg("broken"))
    slack.refuse.clear()
    await box.post("C_ONE", msg("fine"))

    assert texts(slack, "C_ONE") == ["broken", "fine"]
    assert states(store) == ["given_up", "delivered"]
    await box.aclose()


async def test_a_card_the_bot_may_not_post_is_explained_audited_retried_then_posted(
    slack: ScriptedSlack, store: SqlStore, clock: FakeClock
) -> None:
    store.add_request(PENDING)
    box = courier(slack, store, clock)
    slack.refuse["C_APPROVALS"] = "not_in_channel"

    ref = await box.post_card("C_APPROVALS", PENDING.id, CARD, give_up_at=NOW + timedelta(days=1))
    await box.update_card(ref, PENDING.id, msg("decided"))  # a redraw before the post

    assert ref == "C_APPROVALS queued"
    (told,) = [
        c.body["text"] for c in slack.calls("chat.postMessage") if c.body["channel"][0] == "D"
    ]
    assert "could not be posted to #C_APPROVALS" in told and "`/invite`" in told
    audited = [e for e in store.audit_events() if e.kind is AuditKind.CARD_NOT_POSTED]
    assert len(audited) == 1 and "not_in_channel" in (audited[0].detail or "")
    assert any("card_not_posted" in t for t in texts(slack, "C_AUDIT"))

    clock.advance(FIXABLE_RETRY)
    await box.drain()  # still refused: tried again, nobody told twice
    assert len(texts(slack, "C_APPROVALS")) == 2
    assert len([e for e in store.audit_events() if e.kind is AuditKind.CARD_NOT_POSTED]) == 1

    slack.refuse.clear()  # an admin invited the bot
    clock.advance(FIXABLE_RETRY)
    await box.drain()
    assert texts(slack, "C_APPROVALS")[-1] == "card"
    (posted,) = [c for c in slack.calls("chat.postMessage") if c.body["channel"] == "C_APPROVALS"][
        -1:
    ]
    (update,) = slack.calls("chat.update")
    card = store.get_request(PENDING.id)
    assert card is not None and card.card is not None
    assert update.body["text"] == "decided" and update.body["ts"] == card.card.split(" ")[1]
    await box.aclose()


async def test_a_card_never_postable_before_its_request_expired_is_given_up_with_its_redraw(
    slack: ScriptedSlack, store: SqlStore, clock: FakeClock
) -> None:
    store.add_request(PENDING)
    box = courier(slack, store, clock)
    slack.refuse["C_APPROVALS"] = "is_archived"

    ref = await box.post_card("C_APPROVALS", PENDING.id, CARD, give_up_at=NOW + timedelta(hours=1))
    await box.update_card(ref, PENDING.id, msg("expired"))
    slack.refuse.clear()
    clock.advance(timedelta(hours=2))
    await box.drain()
    await box.post("C_APPROVALS", msg("next card"))

    assert texts(slack, "C_APPROVALS")[-1] == "next card"
    assert slack.calls("chat.update") == []
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(outbox_table.c.kind, outbox_table.c.state, outbox_table.c.error)
            .where(outbox_table.c.lane == "C_APPROVALS")
            .order_by(outbox_table.c.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("post", "given_up", "deadline_passed"),
        ("update", "given_up", "card_never_posted"),
        ("post", "delivered", None),
    ]
    await box.aclose()


async def test_a_card_refused_after_a_429_is_still_explained_once(
    slack: ScriptedSlack, store: SqlStore, clock: FakeClock
) -> None:
    store.add_request(PENDING)
    box = courier(slack, store, clock)
    slack.rate_limit("chat.postMessage", times=1)
    slack.refuse["C_APPROVALS"] = "channel_not_found"

    await box.post_card("C_APPROVALS", PENDING.id, CARD, give_up_at=NOW + timedelta(days=1))
    for _ in range(2):
        clock.advance(FIXABLE_RETRY)
        await box.drain()

    told = [c.body["text"] for c in slack.calls("chat.postMessage") if c.body["channel"][0] == "D"]
    assert len(told) == 1 and "that channel does not exist" in told[0]
    await box.aclose()


async def test_a_thread_reply_follows_its_card_and_its_key_is_queued_once(
    slack: ScriptedSlack, store: SqlStore, clock: FakeClock
) -> None:
    store.add_request(activation_record(id="R-CARD0001", state=RequestState.PENDING_APPROVAL))
    box = courier(slack, store, clock)
    ref = await box.post_card("C_PIM_APPROVALS", "R-CARD0001", msg("card"), NOW + timedelta(1))
    posted = store.get_request("R-CARD0001")
    assert posted is not None and posted.card == ref
    card_ts = ref.partition(" ")[2]

    for _ in range(2):  # the same ping told twice (a sweep after a crash): queued once
        await box.reply_in_thread(ref, "R-CARD0001", msg("ping"), NOW + timedelta(1), once="k1")
    again = courier(slack, store, clock)  # another process on the same database
    await again.reply_in_thread(ref, "R-CARD0001", msg("ping"), NOW + timedelta(1), once="k1")
    await again.drain()

    replies = [c.body for c in slack.calls("chat.postMessage") if c.body.get("thread_ts")]
    assert [(r["text"], r["thread_ts"]) for r in replies] == [("ping", card_ts)]
    assert states(store) == ["delivered", "delivered"]
    await box.aclose()
    await again.aclose()
