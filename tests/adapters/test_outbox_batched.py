"""The courier's database work per message, and the batched claims it rests on.

A message put by this replica is claimed in the put's own transaction, and marking it
delivered claims the lane's next head in the same transaction: two transactions a
message, where a put, a head read, a claim and a delivered mark (and a head read to
find the lane empty) were five. Due heads are claimed in batches, one statement each.
Every claim still lapses: another replica takes over a dead one's parcels after CLAIM.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.engine import Engine

import handlers.outbox as outbox_module
from bot.domain.people import PersonKey
from bot.service.outbox import Letter, Parcel
from bot.settings import ChannelsConfig, PolicyFile
from bot.store import SqlStore
from bot.store.outbox import SqlOutbox
from handlers.outbox import CLAIM, Courier, Pace
from tests.support.clock import FakeClock
from tests.support.slack import FakeSlack

CONFIG = PolicyFile(channels=ChannelsConfig(audit="C_AUDIT", approvals="C_APPROVALS"))
HOUR = timedelta(hours=1)


@contextmanager
def transactions(engine: Engine) -> Iterator[list[str]]:
    """The transactions begun on `engine` meanwhile (reads included), but the courier's
    background task's (its poll may fall in the window; it is not the message's cost)."""
    begun: list[str] = []

    def on_begin(conn: Any) -> None:
        task = asyncio.current_task() if _in_loop() else None
        name = getattr(task.get_coro(), "__qualname__", "") if task else ""
        if name != "Courier._run":
            begun.append(name)

    sa.event.listen(engine, "begin", on_begin)
    try:
        yield begun
    finally:
        sa.event.remove(engine, "begin", on_begin)


def _in_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _courier(slack: FakeSlack, store: SqlStore, clock: FakeClock) -> Courier:
    client = AsyncWebClient(token="xoxb-batched", base_url=slack.api_url)
    unpaced = Pace(per_second=1000, burst=1000)
    return Courier(client, SqlOutbox(store.engine, clock), store, CONFIG, clock, pace=unpaced)


async def test_a_post_to_a_free_lane_costs_two_transactions(
    store: SqlStore, clock: FakeClock
) -> None:
    with FakeSlack() as slack:
        courier = _courier(slack, store, clock)
        await courier.post("C1", {"text": "warm-up", "blocks": None})  # the lane, the session
        with transactions(store.engine) as begun:
            await courier.post("C1", {"text": "hello", "blocks": None})
        await courier.aclose()
        texts = [c.body["text"] for c in slack.calls("chat.postMessage")]
    assert texts == ["warm-up", "hello"]
    assert len(begun) == 2  # put + claim; delivered + next head claimed (none)
    assert SqlOutbox(store.engine, clock).backlog() == (0, 0.0)


async def test_a_burst_of_dms_costs_one_put_and_one_transaction_a_message(
    store: SqlStore, clock: FakeClock
) -> None:
    people = [PersonKey("slack", f"U{n:03d}") for n in range(20)]
    letters = [
        (p, {"text": f"due {p.chat_user_id}", "blocks": None}, f"k{n}")
        for n, p in enumerate(people)
    ]
    with FakeSlack() as slack:
        courier = _courier(slack, store, clock)
        with transactions(store.engine) as begun:
            await courier.dm_many(letters)
            # Back once queued and claimed: the caller's next batch need not wait on Slack.
            assert slack.calls("chat.postMessage") == []
            assert len(begun) == 1  # the put, claiming every head
            for _ in range(500):  # the sends, each followed by its delivered mark
                if len(begun) >= 1 + len(people):
                    break
                await asyncio.sleep(0.01)
        await courier.aclose()
        sent = sorted(str(c.body["text"]) for c in slack.calls("chat.postMessage"))
    assert sent == sorted(f"due {p.chat_user_id}" for p in people)  # each once
    assert len(begun) == 1 + len(people)  # the put, then a mark (claiming the next) each
    assert SqlOutbox(store.engine, clock).backlog() == (0, 0.0)


def test_due_heads_are_claimed_in_batches_and_a_claim_lapses(
    store: SqlStore, clock: FakeClock
) -> None:
    """On SQLite and PostgreSQL: only lanes' heads, oldest first, at most `limit`; not a
    head not yet due, nor a lane named busy; another holder's claim until it lapses."""
    outbox = SqlOutbox(store.engine, clock)
    now = clock.now()
    for lane in ("A", "B", "C", "D"):
        for n in range(2):
            outbox.put(lane, "post", {"n": f"{lane}{n}"}, give_up_at=now + HOUR)
    later = outbox.put("E", "post", {"n": "E0"}, give_up_at=now + HOUR)
    outbox.retry(later, now + timedelta(minutes=5), "ratelimited")  # not due yet

    first = outbox.claim_due("r1", now, now + CLAIM, 2, busy=["A"])
    assert [p.body["n"] for p in first] == ["B0", "C0"]
    # On SQLite (one process a file: bot/store/single.py) any claim found is a dead run's.
    replicas = store.engine.dialect.name == "postgresql"
    rest = outbox.claim_due("r2", now, now + CLAIM, 10, busy=[])
    assert [p.body["n"] for p in rest] == (
        ["A0", "D0"] if replicas else ["A0", "B0", "C0", "D0"]
    )  # B0, C0 are r1's; E0 is not due
    renewed = outbox.claim_due("r1", now, now + CLAIM, 10, busy=[])
    assert [p.body["n"] for p in renewed] == (
        ["B0", "C0"] if replicas else ["A0", "B0", "C0", "D0"]
    )  # r1 renews its own, not r2's

    clock.advance(CLAIM.total_seconds())
    now = clock.now()
    taken = outbox.claim_heads(["A", "B"], "r3", now, now + CLAIM)
    assert [p.body["n"] for p in taken] == ["A0", "B0"]  # lapsed: a survivor takes over


def test_put_many_claims_its_lanes_heads_in_the_same_transaction(
    store: SqlStore, clock: FakeClock
) -> None:
    outbox = SqlOutbox(store.engine, clock)
    now = clock.now()
    outbox.put("dm:U2", "dm", {"n": "older"}, give_up_at=now + HOUR)
    letters = [
        Letter("dm:U1", "dm", {"n": "U1 first"}, now + HOUR, dedupe="a"),
        Letter("dm:U2", "dm", {"n": "U2 behind"}, now + HOUR, dedupe="b"),
        Letter("dm:U1", "dm", {"n": "U1 second"}, now + HOUR, dedupe="c"),
    ]
    with transactions(store.engine) as begun:
        heads = outbox.put_many(letters, holder="r1", until=now + CLAIM)
    assert len(begun) == 1
    assert [p.body["n"] for p in heads] == ["older", "U1 first"]  # heads, in id order
    assert outbox.put_many(letters, holder="r1", until=now + CLAIM) == heads  # keys: once
    nxt = outbox.delivered_next(heads[1], "D1 1.0", "r1", now + CLAIM)
    assert nxt is not None and nxt.body["n"] == "U1 second"


async def test_a_restart_remembers_each_person_s_dm_channel(
    store: SqlStore, clock: FakeClock
) -> None:
    """The DM's conversation id comes back from the outbox's delivered refs at start, so
    a restart opens no DM again (conversations.open is a Web API call per person)."""
    aline = PersonKey("slack", "U_ALINE")
    with FakeSlack() as slack:
        first = _courier(slack, store, clock)
        await first.start()
        await first.dm(aline, {"text": "before", "blocks": None})
        await first.aclose()
        again = _courier(slack, store, clock)  # a new process on the same database
        await again.start()
        await again.dm(aline, {"text": "after", "blocks": None})
        await again.dm(PersonKey("slack", "U_BOB"), {"text": "new", "blocks": None})
        await again.aclose()
        opened = [c.body["users"] for c in slack.calls("conversations.open")]
        posts = [(c.body["channel"], c.body["text"]) for c in slack.calls("chat.postMessage")]
    assert opened == ["U_ALINE", "U_BOB"]  # Aline's once, before the restart
    assert posts == [("D_U_ALINE", "before"), ("D_U_ALINE", "after"), ("D_U_BOB", "new")]


async def test_a_claim_that_ran_out_while_waiting_is_renewed_or_left_to_its_new_holder(
    store: SqlStore, clock: FakeClock
) -> None:
    """A parcel claimed, then held back (no free connection) past its claim: before it
    goes it is claimed again; on PostgreSQL, where another replica took it over
    meanwhile, this one does not send it (that one does). SQLite serves one process: a
    claim found there is a dead run's, so it goes."""
    outbox = SqlOutbox(store.engine, clock)
    claimed_at = clock.now()
    with FakeSlack() as slack:
        courier = _courier(slack, store, clock)
        (parcel,) = outbox.put_many(
            [Letter("C1", "post", {"channel": "C1", "text": "once"}, claimed_at + HOUR)],
            holder=courier._me,
            until=claimed_at + CLAIM,
        )
        clock.advance(CLAIM.total_seconds())  # it waited that long for a connection
        taken = outbox.claim(parcel.id, "survivor", clock.now(), clock.now() + CLAIM)
        following = await courier._deliver(parcel, claimed_at)
        await courier.aclose()
        texts = [c.body["text"] for c in slack.calls("chat.postMessage")]
    assert taken
    if store.engine.dialect.name == "postgresql":
        assert texts == [] and following is None
        assert outbox.backlog()[0] == 1  # the survivor's to send
    else:
        assert texts == ["once"] and outbox.backlog()[0] == 0


async def test_one_drain_claims_batch_after_batch_and_takes_each_lane_once(
    store: SqlStore, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More lanes due than a batch: one drain goes on to the next batch; a lane whose
    pace says wait is not claimed again in the same pass (the drain ends)."""
    monkeypatch.setattr(outbox_module, "CLAIM_BATCH", 2)
    outbox = SqlOutbox(store.engine, clock)
    for n in range(5):
        body = {"channel": f"C{n}", "text": f"t{n}"}
        outbox.put(f"C{n}", "post", body, give_up_at=clock.now() + HOUR)
    outbox.put("C0", "post", {"channel": "C0", "text": "t0 again"}, give_up_at=clock.now() + HOUR)
    with FakeSlack() as slack:
        client = AsyncWebClient(token="xoxb-batched", base_url=slack.api_url)
        one_each = Pace(per_second=0.001, burst=1)  # C0's second must wait
        courier = Courier(client, outbox, store, CONFIG, clock, pace=one_each)
        batches: list[int] = []
        claim_due = outbox.claim_due

        def counted(*args: Any, **kwargs: Any) -> list[Parcel]:
            batches.append(len(got := claim_due(*args, **kwargs)))
            return got

        monkeypatch.setattr(outbox, "claim_due", counted)
        await courier.drain()
        await courier.aclose()
        texts = sorted(str(c.body["text"]) for c in slack.calls("chat.postMessage"))
    assert texts == ["t0", "t1", "t2", "t3", "t4"]
    assert outbox.backlog()[0] == 1  # "t0 again", paced
    assert batches == [2, 2, 1]  # C0, C1 | C2, C3 | C4; not C0 again in the pass
