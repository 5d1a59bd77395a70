"""SqlLeases (bot/store/leases.py) and Leases (bot/service/leases.py): a request being
activated is leased by its replica, renewed while it works, and taken over by exactly one
survivor once the lease lapsed; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

from bot.domain.requests import RequestState
from bot.service.leases import Leases
from bot.store import SqlStore
from bot.store.leases import SqlLeases
from tests.support.cast import GLOBAL_ADMIN, SECURITY_ADMIN, USER_ADMIN
from tests.support.clock import FakeClock
from tests.support.records import NOW, activation_record

S = RequestState
LEASE = timedelta(seconds=30)


def _activating(store: SqlStore, request_id: str = "R-LEASED01", role: str = USER_ADMIN) -> str:
    record = activation_record(id=request_id, state=S.ACTIVATING, start=None, end=None)
    store.add_request(record.with_changes(role_id=role))  # one open request per target
    return request_id


def test_a_held_lease_is_live_until_it_lapses_and_only_its_holder_renews_it(
    store: SqlStore,
) -> None:
    leases = SqlLeases(store.engine)
    rid = _activating(store)
    leases.hold(rid, "a", NOW + LEASE)

    assert leases.live(NOW) == {rid} and leases.lapsed(NOW) == []
    leases.renew([rid], "b", NOW + 10 * LEASE)  # not b's: nothing changes
    assert leases.lapsed(NOW + LEASE + timedelta(seconds=1)) == [rid]
    leases.renew([rid], "a", NOW + 2 * LEASE)
    assert leases.lapsed(NOW + LEASE + timedelta(seconds=1)) == []


def test_a_request_no_longer_activating_has_no_lease_that_counts(store: SqlStore) -> None:
    leases = SqlLeases(store.engine)
    rid = _activating(store)
    leases.hold(rid, "a", NOW + LEASE)
    store.transition(rid, frozenset({S.ACTIVATING}), S.ACTIVE, start=NOW, end=NOW + LEASE)

    later = NOW + 2 * LEASE
    assert leases.lapsed(later) == [] and leases.live(NOW) == set()
    assert not leases.take(rid, "b", later, later + LEASE)


def test_a_request_activated_without_a_lease_is_never_taken_over(store: SqlStore) -> None:
    """Break-glass and Entra-approved requests go `activating` without one: left to the
    start-up recovery, never to a survivor that cannot know whether it is still worked on."""
    leases = SqlLeases(store.engine)
    _activating(store)

    assert leases.lapsed(NOW + timedelta(days=1)) == []


def test_of_many_replicas_taking_a_lapsed_lease_at_once_exactly_one_wins(
    store: SqlStore,
) -> None:
    leases = SqlLeases(store.engine)
    rid = _activating(store)
    leases.hold(rid, "dead", NOW + LEASE)
    later = NOW + LEASE + timedelta(seconds=1)
    barrier = threading.Barrier(6)
    won: list[str] = []

    def take(holder: str) -> None:
        barrier.wait()
        if leases.take(rid, holder, later, later + LEASE):
            won.append(holder)

    threads = [threading.Thread(target=take, args=(f"r{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    assert leases.lapsed(later) == []  # the winner's lease is live


def test_a_round_renews_what_this_replica_works_on_and_carries_on_a_dead_ones(
    store: SqlStore, clock: FakeClock
) -> None:
    sql = SqlLeases(store.engine)
    mine = Leases(sql, clock, "me", lease=LEASE, scan_every=10)
    working = _activating(store, "R-WORKING1")
    dead = _activating(store, "R-DEADREP1", SECURITY_ADMIN)
    sql.hold(dead, "dead", clock.now() + LEASE)
    carried: list[str] = []

    async def carry_on(request_id: str) -> None:
        carried.append(request_id)

    async def scenario() -> list[str]:
        with mine.hold(working):
            clock.advance(LEASE.total_seconds() - 5)
            assert await mine.round(carry_on) == []  # nothing lapsed yet; mine renewed
            clock.advance(10)  # the dead replica's lease lapsed; mine was renewed above
            taken = await mine.round(carry_on)
            await mine.settled()
            assert sql.live(clock.now()) == {working, dead}  # both leased by `me` now
            return taken

    assert asyncio.run(scenario()) == [dead]
    assert carried == [dead]
    # Done with it: released, so nobody takes it over, whatever state it was left in.
    assert sql.lapsed(clock.now() + 10 * LEASE) == [dead]  # carried on: lapses, retried
    assert working not in sql.live(clock.now())


def test_holds_nest_and_the_outermost_releases(store: SqlStore, clock: FakeClock) -> None:
    """An approval leases its request, and the activation it runs leases it again."""
    sql = SqlLeases(store.engine)
    leases = Leases(sql, clock, "me", lease=LEASE, scan_every=10)
    rid = _activating(store)
    with leases.hold(rid):
        with leases.hold(rid):
            pass
        assert sql.live(clock.now()) == {rid}
    assert sql.live(clock.now()) == set()
    assert sql.lapsed(clock.now() + timedelta(days=1)) == []


def test_an_approved_request_is_leased_too(store: SqlStore) -> None:
    """Approved, and its approver's replica died before activating it: taken over."""
    sql = SqlLeases(store.engine)
    rid = "R-APPROVED"
    store.add_request(activation_record(id=rid, state=S.APPROVED, start=None, end=None))
    sql.hold(rid, "dead", NOW + LEASE)

    later = NOW + 2 * LEASE
    assert sql.lapsed(later) == [rid]
    assert sql.take(rid, "b", later, later + LEASE)


def test_leased_names_live_and_lapsed_leases_but_not_released_ones(
    store: SqlStore, clock: FakeClock
) -> None:
    """What a starting replica leaves to the lease scan rather than recovering itself
    (its own recovery would race a survivor carrying the request on)."""
    sql = SqlLeases(store.engine)
    lapsed = _activating(store, "R-LAPSED01")
    sql.hold(lapsed, "dead", NOW - LEASE)
    live = _activating(store, "R-LIVE0001", SECURITY_ADMIN)
    sql.hold(live, "alive", NOW + LEASE)
    released = _activating(store, "R-RELEASED", GLOBAL_ADMIN)
    leases = Leases(sql, clock, "me", lease=LEASE, scan_every=10)
    with leases.hold(released):
        pass

    assert leases.leased() == {lapsed, live}
