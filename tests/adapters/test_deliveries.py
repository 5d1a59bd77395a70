"""SqlDeliveries (bot/store/deliveries.py): the replicas' shared claims on Slack payload
keys, on SQLite and PostgreSQL. One claimant wins however many ask at once; a settled key
is DONE; an unsettled one is BUSY until its lease runs out, then taken over."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from bot.service.deliveries import CLAIM_LEASE, Claim, MemoryDeliveries
from bot.store import SqlStore
from bot.store.deliveries import SqlDeliveries
from handlers.socket_once import delivery_key

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_the_first_claim_is_mine_and_a_second_is_busy_until_settled(store: SqlStore) -> None:
    deliveries = SqlDeliveries(store.engine)  # migrated by the store

    assert deliveries.claim("slash_commands:t1", "a", NOW) is Claim.MINE
    assert deliveries.claim("slash_commands:t1", "b", NOW + timedelta(seconds=3)) is Claim.BUSY
    deliveries.settle("slash_commands:t1")
    assert deliveries.claim("slash_commands:t1", "b", NOW + timedelta(hours=1)) is Claim.DONE


def test_a_claim_never_settled_is_taken_over_after_its_lease(store: SqlStore) -> None:
    """The claimant died between its claim and its ack: Slack's next delivery is handled."""
    deliveries = SqlDeliveries(store.engine)  # migrated by the store
    deliveries.claim("interactive:t2", "dead", NOW)

    assert deliveries.claim("interactive:t2", "b", NOW + CLAIM_LEASE) is Claim.MINE
    assert deliveries.claim("interactive:t2", "c", NOW + CLAIM_LEASE) is Claim.BUSY


def test_of_many_replicas_claiming_at_once_exactly_one_wins(store: SqlStore) -> None:
    deliveries = SqlDeliveries(store.engine)  # migrated by the store
    outcomes: list[Claim] = []
    barrier = threading.Barrier(8)

    def claim(holder: str) -> None:
        barrier.wait()
        outcomes.append(deliveries.claim("events_api:Ev1", holder, NOW))

    threads = [threading.Thread(target=claim, args=(f"r{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes.count(Claim.MINE) == 1 and outcomes.count(Claim.BUSY) == 7


def test_keys_are_what_slack_keeps_across_deliveries() -> None:
    assert delivery_key("events_api", {"event_id": "Ev1", "event": {}}) == "events_api:Ev1"
    assert delivery_key("slash_commands", {"trigger_id": "1.2.x"}) == "slash_commands:1.2.x"
    assert delivery_key("interactive", {"type": "block_actions", "trigger_id": "t"}) == (
        "interactive:t"
    )
    # Nothing to recognise a redelivery by: handled as it comes.
    assert delivery_key("interactive", {"type": "block_suggestion"}) is None
    assert delivery_key("hello", {}) is None
    assert delivery_key("events_api", "not a dict") is None
    assert delivery_key("slash_commands", {"trigger_id": "x" * 151}) is None  # not Slack's


def test_memory_claims_behave_as_the_shared_ones() -> None:
    """SQLite's single process keeps its claims in memory, with the same answers."""
    deliveries = MemoryDeliveries()

    assert deliveries.claim("k", "a", NOW) is Claim.MINE
    assert deliveries.claim("k", "a", NOW + timedelta(seconds=1)) is Claim.BUSY
    assert deliveries.claim("k", "a", NOW + CLAIM_LEASE) is Claim.MINE  # lapsed
    deliveries.settle("k")
    assert deliveries.claim("k", "a", NOW + timedelta(hours=1)) is Claim.DONE
