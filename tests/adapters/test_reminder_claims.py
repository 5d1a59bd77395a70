"""Due reminders claimed in batches: one statement claims up to `limit` of them, oldest
first, and two stores on one database (two replicas) never claim the same reminder, on
SQLite and PostgreSQL (`FOR UPDATE SKIP LOCKED` there)."""

from __future__ import annotations

import threading
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.domain.audit import AuditKind, event_for
from bot.domain.reminders import Reminder, ReminderKind
from bot.service.outbox import Letter
from bot.store import SqlStore
from bot.store.engine import make_engine
from bot.store.outbox import SqlOutbox
from bot.store.tables import outbox as outbox_table
from tests.support.clock import FakeClock
from tests.support.records import NOW, activation_record

COUNT, LIMIT = 120, 7
LEAD = timedelta(minutes=15)


def _plan(store: SqlStore, count: int) -> list[str]:
    """`count` reminders due now or earlier, one activation each; their ids."""
    ids = []
    for n in range(count):
        record = activation_record(id=f"R-BATCH{n:04d}")
        store.add_request(record)
        due = NOW - timedelta(seconds=n % 5)
        store.save_reminders(
            [Reminder(f"{record.id}:15m", record.id, ReminderKind.LEAD, due, LEAD)]
        )
        ids.append(f"{record.id}:15m")
    return ids


def test_a_batch_is_the_oldest_due_unsent_reminders_and_each_is_claimed_once(
    store: SqlStore, clock: FakeClock
) -> None:
    ids = _plan(store, 10)
    later = activation_record(id="R-LATER")
    store.add_request(later)
    store.save_reminders(
        [Reminder("R-LATER:15m", later.id, ReminderKind.LEAD, NOW + timedelta(minutes=1), LEAD)]
    )

    first = store.claim_due_reminders(NOW, 4)
    assert [r.due_at for r in first] == sorted(r.due_at for r in first)
    assert all(r.due_at <= NOW - timedelta(seconds=3) for r in first)  # the oldest ones
    rest = store.claim_due_reminders(NOW, 100)
    assert sorted(r.id for r in first + rest) == sorted(ids)  # not the one due later
    assert store.claim_due_reminders(NOW, 100) == []
    # Claimed is not sent: that waits for the claimer to queue the message.
    assert all(r.sent_at is None for r in store.list_reminders() if r.id in ids)
    store.mark_reminders_sent(ids, NOW)
    assert all(r.sent_at == NOW for r in store.list_reminders() if r.id in ids)


def test_a_claim_runs_out_and_the_reminder_is_claimed_again_until_it_is_marked_sent(
    store: SqlStore, clock: FakeClock
) -> None:
    """A claimer that died before marking its batch sent: after the lease, the next run
    claims those reminders again; once marked sent (with its audit rows, in the same
    transaction), never again."""
    ids = _plan(store, 3)
    lease = timedelta(seconds=60)
    first = store.claim_due_reminders(NOW, 10, lease)
    assert sorted(r.id for r in first) == sorted(ids)
    assert store.claim_due_reminders(NOW + lease - timedelta(seconds=1), 10, lease) == []
    again = store.claim_due_reminders(NOW + lease, 10, lease)
    assert sorted(r.id for r in again) == sorted(ids)

    record = store.get_request("R-BATCH0000")
    assert record is not None
    event = event_for(AuditKind.REMINDED, record, at=NOW + lease, actor=None)
    store.mark_reminders_sent(ids, NOW + lease, audit=[event])
    assert store.claim_due_reminders(NOW + 10 * lease, 10, lease) == []
    assert [e.kind for e in store.audit_events()] == [AuditKind.REMINDED]


def test_re_planning_a_claimed_reminder_at_a_new_moment_frees_it(
    store: SqlStore, clock: FakeClock
) -> None:
    """An extension re-plans the same reminder id later: a new message, not held by the
    claim of the old one."""
    (rid,) = _plan(store, 1)
    (claimed,) = store.claim_due_reminders(NOW, 10)
    later = Reminder(rid, claimed.request_id, ReminderKind.LEAD, NOW + timedelta(minutes=5), LEAD)
    store.save_reminders([later])
    assert [r.id for r in store.claim_due_reminders(NOW + timedelta(minutes=5), 10)] == [rid]


def test_two_stores_on_one_database_claim_disjoint_batches(
    engine: Engine, database_url: str, clock: FakeClock
) -> None:
    """Two replicas' stores, each its own engine (connections), claiming at once."""
    ids = _plan(SqlStore(engine, clock=clock), COUNT)
    other = make_engine(database_url)
    stores = [SqlStore(engine, clock=clock), SqlStore(other, clock=clock)]
    claimed: list[list[str]] = [[], []]
    start = threading.Barrier(2)

    def claim(n: int) -> None:
        start.wait()
        while batch := stores[n].claim_due_reminders(NOW, LIMIT):
            claimed[n] += [r.id for r in batch]

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        other.dispose()
    assert sorted(claimed[0] + claimed[1]) == sorted(ids)  # every one, none twice


def test_parcels_queued_together_keep_their_order_and_a_key_is_queued_once(
    store: SqlStore, clock: FakeClock
) -> None:
    """`put_many` (a batch of reminder DMs), on SQLite and PostgreSQL: one statement, in
    order per lane; the same keys again (a batch claimed again after a crash) add nothing."""
    engine = store.engine
    outbox = SqlOutbox(engine, clock)
    until = NOW + timedelta(days=1)
    letters = [
        Letter("dm:U1", "dm", {"n": 1}, until, dedupe="reminder a"),
        Letter("dm:U2", "dm", {"n": 2}, until, dedupe="reminder b"),
        Letter("dm:U1", "dm", {"n": 3}, until, dedupe="reminder c"),
    ]
    outbox.put_many(letters)
    outbox.put_many(letters)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(outbox_table.c.lane, outbox_table.c.dedupe)).all()
    assert sorted(d for _, d in rows) == ["reminder a", "reminder b", "reminder c"]
    head = outbox.head("dm:U1")
    assert head is not None and head.body == {"n": 1}
