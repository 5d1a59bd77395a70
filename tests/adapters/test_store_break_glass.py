"""The break-glass rows of SqlStore: one ratification per approver, settling once, and
ending once (the compare-and-sets behind Ratify / Revoke and the sweep)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain.breakglass import BreakGlassRecord, GlassState
from bot.domain.people import slack
from bot.domain.requests import RequestState
from bot.store import SqlStore
from tests.adapters.test_store import make_record, race

G = GlassState
T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
AWAITING = frozenset({G.AWAITING})


def _glass(store: SqlStore, required: int = 1) -> None:
    store.add_request(make_record(state=RequestState.ACTIVE, start=T0, end=T0 + timedelta(hours=1)))
    glass = BreakGlassRecord(
        "r1", slack("U1"), T0, T0 + timedelta(minutes=30), required, G.AWAITING
    )
    store.add_break_glass(glass)


def test_round_trips_and_lists_by_person_and_time(store: SqlStore) -> None:
    _glass(store)

    got = store.get_break_glass("r1")

    assert got is not None and got.requester == slack("U1") and got.ratify_by > got.started_at
    assert store.list_break_glass(requester=slack("U1"), since=T0 - timedelta(hours=1))
    assert not store.list_break_glass(requester=slack("U2"))
    assert not store.list_break_glass(since=T0)


def test_enough_ratifications_settle_it_in_the_same_step(store: SqlStore) -> None:
    _glass(store, required=2)

    first = store.add_ratification("r1", slack("A"), T0)
    again = store.add_ratification("r1", slack("A"), T0)
    second = store.add_ratification("r1", slack("B"), T0)

    assert first is not None and first.state is G.AWAITING and len(first.ratified_by) == 1
    assert again is None
    assert second is not None and second.state is G.RATIFIED
    assert second.settled_by == slack("B")


def test_no_ratification_once_revoked(store: SqlStore) -> None:
    _glass(store)
    revoked = store.settle_break_glass("r1", AWAITING, G.REVOKED, settled_by=slack("A"))

    assert revoked is not None and revoked.state is G.REVOKED
    assert store.add_ratification("r1", slack("B"), T0) is None
    assert store.settle_break_glass("r1", AWAITING, G.LAPSED) is None


def test_one_ratification_per_approver_among_racing_clicks(store: SqlStore) -> None:
    _glass(store, required=2)

    counted = [g for g in race(10, lambda: store.add_ratification("r1", slack("A"), T0)) if g]

    assert len(counted) == 1
    got = store.get_break_glass("r1")
    assert got is not None and got.state is G.AWAITING


def test_it_ends_once_and_only_when_due(store: SqlStore) -> None:
    _glass(store)
    end = T0 + timedelta(minutes=5)
    store.settle_break_glass("r1", AWAITING, G.REVOKED, end_at=end)

    assert store.claim_glass_end("r1", end - timedelta(seconds=1)) is None
    winners = [g for g in race(10, lambda: store.claim_glass_end("r1", end)) if g]
    assert len(winners) == 1 and winners[0].ended_at == end
