"""Audit lines queued one after another go out joined, within what Slack takes.

The audit channel takes about one message a second ("chat.postMessage generally allows
posting one message per second per channel", https://api.slack.com/docs/rate-limits), and
every activation queues two lines: one message a line fell behind under any burst (a
throughput bench's 576 activations left 1,141 lines queued, 19 minutes of posting). The
courier now sends a lane's queued lines as one message, as few as Slack takes: 50 blocks,
and well short of `msg_blocks_too_long` (reported at about 13,200 characters,
https://github.com/slackapi/bolt-js/issues/2509), which the fake Slack enforces.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.audit import AuditEvent, AuditKind
from bot.domain.people import PersonKey
from bot.settings import ChannelsConfig, PolicyFile
from bot.simulators.workspace.limits import blocks_too_long
from bot.store import SqlStore
from bot.store.outbox import SqlOutbox
from bot.store.tables import outbox as outbox_table
from handlers import sandbox_mark
from handlers.blocks import cards
from handlers.outbox import Courier, Pace
from tests.adapters.test_outbox_batched import transactions
from tests.support.clock import FakeClock
from tests.support.slack import FakeSlack

AUDIT = "C_AUDIT"
CONFIG = PolicyFile(channels=ChannelsConfig(audit=AUDIT))


def _courier(slack: FakeSlack, store: SqlStore, clock: FakeClock, **kwargs: Any) -> Courier:
    client = AsyncWebClient(token="xoxb-lines", base_url=slack.api_url)
    unpaced = Pace(per_second=1000, burst=1000)
    outbox = SqlOutbox(store.engine, clock)
    return Courier(client, outbox, store, CONFIG, clock, pace=unpaced, **kwargs)


def _line(n: int) -> dict[str, Any]:
    text = f"line {n:04d}"
    return {"text": text, "blocks": [{"type": "context", "elements": [_mrkdwn(text)]}]}


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def _queue(courier: Courier, store: SqlStore, clock: FakeClock, msgs: list[Any]) -> None:
    """As the store queues an audit row's line: in a transaction of its own."""
    SqlOutbox(store.engine, clock).put_many(courier.letters(AUDIT, msgs))


def _posted(slack: FakeSlack) -> list[dict[str, Any]]:
    return [c.body for c in slack.calls("chat.postMessage") if not c.limited]


def _lines_in(body: dict[str, Any]) -> list[str]:
    blocks = body["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    return [b["elements"][0]["text"] for b in blocks if b.get("block_id") != sandbox_mark.BLOCK_ID]


def _states(store: SqlStore) -> dict[str, int]:
    query = sa.select(outbox_table.c.state, sa.func.count()).group_by(outbox_table.c.state)
    with store.engine.begin() as conn:
        return {str(state): int(n) for state, n in conn.execute(query)}


async def test_a_burst_of_queued_lines_goes_out_in_few_posts_each_once_in_order(
    store: SqlStore, clock: FakeClock
) -> None:
    with FakeSlack() as slack:
        courier = _courier(slack, store, clock)
        _queue(courier, store, clock, [_line(n) for n in range(120)])
        with transactions(store.engine) as begun:
            await courier.drain()
        await courier.aclose()
        posts = _posted(slack)
    assert [line for post in posts for line in _lines_in(post)] == [
        f"line {n:04d}" for n in range(120)
    ]
    assert len(posts) == 3  # 49 lines a post, a block left for the sandbox note
    assert all(len(_lines_in(post)) <= cards.LINES_PER_POST for post in posts)
    assert len(begun) <= 3 * len(posts)  # per post: its lines read, marked, a claim
    assert _states(store) == {"delivered": 120}


async def test_long_lines_are_split_short_of_the_size_slack_refuses(
    store: SqlStore, clock: FakeClock
) -> None:
    long = [
        {"text": f"long {n}", "blocks": [{"type": "context", "elements": [_mrkdwn("x" * 1900)]}]}
        for n in range(20)
    ]
    with FakeSlack() as slack:
        courier = _courier(slack, store, clock)
        _queue(courier, store, clock, long)
        await courier.drain()
        await courier.aclose()
        posts = _posted(slack)
    assert sum(len(_lines_in(post)) for post in posts) == 20
    assert 1 < len(posts) < 20
    assert not any(blocks_too_long(post["blocks"]) for post in posts)
    assert _states(store) == {"delivered": 20}


def test_a_burst_of_audit_events_is_drawn_in_posts_slack_takes() -> None:
    """The reminder sweep's own batch (`audit_posts`): fifty lines with long
    justifications were one 50-block post, past `msg_blocks_too_long`."""
    events = [_event(n, "because " * 200) for n in range(50)]
    posts = cards.audit_posts(events)
    assert len(posts) > 1
    assert not any(blocks_too_long(post["blocks"]) for post in posts)
    drawn = [b for post in posts for b in post["blocks"]]
    assert [json.dumps(b) for b in drawn] == [
        json.dumps(b) for e in events for b in cards.audit_post(e)["blocks"]
    ]


async def test_lines_are_never_joined_across_another_message_of_the_lane(
    store: SqlStore, clock: FakeClock
) -> None:
    with FakeSlack() as slack:
        courier = _courier(slack, store, clock)
        _queue(courier, store, clock, [_line(1), _line(2)])
        SqlOutbox(store.engine, clock).put(
            AUDIT, "post", {"channel": AUDIT, "text": "the board", "blocks": None},
            give_up_at=clock.now() + timedelta(days=1),
        )  # fmt: skip
        _queue(courier, store, clock, [_line(3)])
        await courier.drain()
        await courier.aclose()
        texts = [post["text"] for post in _posted(slack)]
    assert texts == ["line 0001\nline 0002", "the board", "line 0003"]


class RefusesJoined(FakeSlack):
    """A Slack that refuses any post of more than one block, as it would one too long."""

    def answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        if method == "chat.postMessage" and len(body.get("blocks") or []) > 1:
            return {"ok": False, "error": "msg_blocks_too_long"}
        return super().answer(method, body)


async def test_a_refused_joined_post_loses_no_line(store: SqlStore, clock: FakeClock) -> None:
    with RefusesJoined() as slack:
        courier = _courier(slack, store, clock)
        _queue(courier, store, clock, [_line(n) for n in range(4)])
        for _ in range(12):  # a refused head waits for the next pass, then goes alone
            await courier.drain()
        await courier.aclose()
        posts = [c.body for c in slack.calls("chat.postMessage")]
    sent = [p["text"] for p in posts if len(p.get("blocks") or []) == 1]
    assert sent == [f"line {n:04d}" for n in range(4)]
    assert _states(store) == {"delivered": 4}


async def test_a_joined_post_in_the_sandbox_carries_one_note(
    store: SqlStore, clock: FakeClock
) -> None:
    with FakeSlack() as slack:
        courier = _courier(slack, store, clock, mark=sandbox_mark.mark)
        _queue(courier, store, clock, [_line(n) for n in range(3)])
        await courier.drain()
        await courier.aclose()
        (post,) = _posted(slack)
    ids = [b.get("block_id") for b in post["blocks"]]
    assert ids.count(sandbox_mark.BLOCK_ID) == 1 and ids[-1] == sandbox_mark.BLOCK_ID
    assert _lines_in(post) == ["line 0000", "line 0001", "line 0002"]
    assert post["text"].startswith(sandbox_mark.PREFIX) and post["text"].count("[sandbox") == 1


def _event(n: int, justification: str) -> AuditEvent:
    return AuditEvent(
        at=FakeClock().now(),
        kind=AuditKind.REMINDED,
        person=PersonKey("slack", f"U{n:03d}"),
        entra_user_id=f"entra-{n}",
        role_id="r1",
        role_name="User Administrator",
        justification=justification.strip(),
        request_id=f"R-{n:08d}",
    )


async def test_a_paced_lane_is_not_claimed_again_until_its_token_is_back(
    store: SqlStore, clock: FakeClock
) -> None:
    """Every audit row asks for its lane to be sent; while the channel's pace says wait,
    asking costs nothing (it was a claim, a transaction, each time: two an activation)."""
    with FakeSlack() as slack:
        client = AsyncWebClient(token="xoxb-lines", base_url=slack.api_url)
        outbox = SqlOutbox(store.engine, clock)
        one_a_second = Pace(per_second=1.0, burst=1.0)
        courier = Courier(client, outbox, store, CONFIG, clock, pace=one_a_second)
        _queue(courier, store, clock, [_line(0)])
        await courier.send_queued(AUDIT)  # the token: sent
        _queue(courier, store, clock, [_line(1)])
        await courier.send_queued(AUDIT)  # refused by the pace: the lane rests
        with transactions(store.engine) as begun:
            for n in range(2, 12):
                _queue(courier, store, clock, [_line(n)])
                await courier.send_queued(AUDIT)
        queued = len(begun)
        clock.advance(timedelta(seconds=1))
        await courier.drain()
        await courier.aclose()
        posts = _posted(slack)
    assert queued == 10  # the puts alone
    assert [_lines_in(p) for p in posts] == [["line 0000"], [f"line {n:04d}" for n in range(1, 12)]]


async def test_the_fake_slack_refuses_a_message_too_large_in_all() -> None:
    """As Slack does (`msg_blocks_too_long`), though each block is within its own limits."""
    big = [{"type": "context", "elements": [_mrkdwn("x" * 1900)]} for _ in range(8)]
    with FakeSlack() as slack:
        client = AsyncWebClient(token="xoxb-lines", base_url=slack.api_url)
        with pytest.raises(SlackApiError) as refused:
            await client.chat_postMessage(channel=AUDIT, text="big", blocks=big)
        fits = await client.chat_postMessage(channel=AUDIT, text="fits", blocks=big[:6])
    assert refused.value.response["error"] == "msg_blocks_too_long"
    assert fits["ok"]
