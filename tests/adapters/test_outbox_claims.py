"""Two couriers (replicas) on one database: each parcel is claimed by one of them and sent
once; a parcel a dead replica claimed is taken over once its claim runs out (60 s)."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.engine import Engine

from bot.settings import ChannelsConfig, PolicyFile
from bot.store import SqlStore
from bot.store.engine import make_engine
from bot.store.outbox import SqlOutbox
from handlers.outbox import CLAIM, Courier, Pace
from tests.support.clock import FakeClock
from tests.support.databases import postgres_url
from tests.support.slack import FakeSlack

CONFIG = PolicyFile(channels=ChannelsConfig(audit="C_AUDIT", approvals="C_APPROVALS"))
LANES, PER_LANE = 4, 10


def _courier(slack: FakeSlack, engine: Engine, clock: FakeClock) -> Courier:
    client = AsyncWebClient(token="xoxb-replica", base_url=slack.api_url)
    unpaced = Pace(per_second=1000, burst=1000)  # the claims, not the pace, are under test
    outbox = SqlOutbox(engine, clock)
    return Courier(client, outbox, SqlStore(engine, clock=clock), CONFIG, clock, pace=unpaced)


def _fill(outbox: SqlOutbox, clock: FakeClock) -> list[str]:
    texts = []
    for n in range(LANES * PER_LANE):
        channel, text = f"C{n % LANES}", f"parcel {n}"
        outbox.put(
            channel,
            "post",
            {"channel": channel, "text": text},
            give_up_at=clock.now() + timedelta(hours=1),
        )
        texts.append(text)
    return texts


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from postgres_url()


@pytest.mark.slow
def test_two_couriers_on_one_postgresql_send_each_parcel_once(pg_url: str) -> None:
    clock = FakeClock()
    engines = [make_engine(pg_url) for _ in range(2)]
    outbox = SqlOutbox(SqlStore(engines[0], clock=clock).engine, clock)  # migrated
    texts = _fill(outbox, clock)
    barrier = threading.Barrier(2)

    def replica(engine: Engine) -> None:
        courier = _courier(slack, engine, clock)

        async def drain_until_empty() -> None:
            barrier.wait()
            while outbox.backlog()[0]:
                await courier.drain()
                await asyncio.sleep(0)

        asyncio.run(drain_until_empty())

    try:
        with FakeSlack() as slack:
            threads = [threading.Thread(target=replica, args=(e,)) for e in engines]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            sent = Counter(str(call.body["text"]) for call in slack.calls("chat.postMessage"))
        assert sent == Counter(texts)  # every parcel, each exactly once
        for lane in range(LANES):  # and in order within its lane
            order = [
                c for c in sent if c.startswith("parcel ") and int(c.split()[1]) % LANES == lane
            ]
            assert order == sorted(order, key=lambda t: int(t.split()[1]))
    finally:
        for engine in engines:
            engine.dispose()


@pytest.mark.slow
def test_a_dead_replica_s_claim_is_taken_over_after_it_runs_out(pg_url: str) -> None:
    clock = FakeClock()
    store = SqlStore.from_url(pg_url, clock=clock)
    outbox = SqlOutbox(store.engine, clock)
    until = clock.now() + timedelta(hours=1)
    parcel = outbox.put("C1", "post", {"channel": "C1", "text": "once"}, give_up_at=until)
    assert outbox.claim(parcel, "dead-replica", clock.now(), clock.now() + CLAIM)
    with FakeSlack() as slack:
        courier = _courier(slack, store.engine, clock)
        asyncio.run(courier.drain())
        assert slack.calls("chat.postMessage") == []  # still the dead one's to send

        clock.advance(CLAIM.total_seconds())
        asyncio.run(courier.drain())
        assert [c.body["text"] for c in slack.calls("chat.postMessage")] == ["once"]
    assert outbox.backlog() == (0, 0.0)
    assert not outbox.claim(parcel, "dead-replica", clock.now(), clock.now() + CLAIM)  # sent
    store.close()


def test_on_sqlite_a_restart_sends_at_once_what_the_dead_run_had_claimed(
    tmp_path: Path,
) -> None:
    """SQLite serves one process (bot/store/single.py): a claim found there is a dead
    run's, not a live replica's."""
    clock = FakeClock()
    store = SqlStore.from_url(f"sqlite:///{tmp_path / 'pimbot.db'}", clock=clock)
    outbox = SqlOutbox(store.engine, clock)
    until = clock.now() + timedelta(hours=1)
    parcel = outbox.put("C1", "post", {"channel": "C1", "text": "again"}, give_up_at=until)
    assert outbox.claim(parcel, "the-run-before", clock.now(), clock.now() + CLAIM)
    with FakeSlack() as slack:
        asyncio.run(_courier(slack, store.engine, clock).drain())
        assert [c.body["text"] for c in slack.calls("chat.postMessage")] == ["again"]
    store.close()
