"""SqlStore on SQLite (always) and PostgreSQL (when PIM_TEST_DATABASE_URL is set)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import TypeVar

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.domain.audit import AuditEvent, AuditKind
from bot.domain.nudges import Pinged, PingKind
from bot.domain.people import slack
from bot.domain.reminders import Reminder, reminder_plan
from bot.domain.requests import ActivationRecord, RequestState
from bot.domain.targets import Scope, TargetKind
from bot.errors import DuplicateRequest
from bot.service.ports import Store, UserLink
from bot.store import SqlStore, make_engine
from bot.store.engine import BUSY_TIMEOUT_MS, normalise_url
from tests.support.cast import SECURITY_ADMIN
from tests.support.clock import FakeClock
from tests.support.records import activation_record

S = RequestState
T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
PENDING = frozenset({S.PENDING_APPROVAL})
T = TypeVar("T")


def make_record(request_id: str = "r1", **changes: object) -> ActivationRecord:
    """A pending request of user U1 (entra-1), not yet started."""
    return activation_record(
        id=request_id,
        requester=slack("U1"),
        principal_id="entra-1",
        state=S.PENDING_APPROVAL,
        start=None,
        end=None,
    ).with_changes(**changes)


def race(n: int, fn: Callable[[], T]) -> list[T]:
    """Run fn in n threads released together; return their results (any error fails)."""
    barrier = threading.Barrier(n)
    results: list[T] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        try:
            result = fn()
        except BaseException as exc:  # noqa: BLE001 -- re-raised in the test's thread
            with lock:
                errors.append(exc)
            return
        with lock:
            results.append(result)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


class TestRequests:
    def test_round_trips_every_field(self, store: SqlStore) -> None:
        record = make_record(
            approval_reason="policy requires approval",
            graph_request_id="g-1",
            start=T0,
            end=T0 + timedelta(hours=5),
            decided_by=slack("U2"),
            decided_at=T0,
            decision_reason="ok",
            card="C1 1700000000.000100",
            error="none",
            duration=timedelta(hours=1, minutes=30, microseconds=5),
        )
        store.add_request(record)
        assert store.get_request("r1") == record

    def test_round_trips_a_request_without_ticket_or_optional_fields(self, store: SqlStore) -> None:
        record = make_record(ticket=None)
        store.add_request(record)
        assert store.get_request("r1") == record

    def test_answers_none_for_an_unknown_request(self, store: SqlStore) -> None:
        assert store.get_request("nope") is None

    def test_reads_many_requests_at_once_leaving_out_unknown_ones(self, store: SqlStore) -> None:
        first = make_record("r1")
        second = make_record("r2", role_id="another-role", ticket=None)
        store.add_request(first)
        store.add_request(second)
        found = store.get_requests(["r2", "nope", "r1"])
        assert sorted(found, key=lambda r: r.id) == [first, second]
        assert store.get_requests([]) == []

    def test_returns_aware_utc_whatever_zone_went_in(self, store: SqlStore) -> None:
        paris = timezone(timedelta(hours=1))
        store.add_request(make_record(created_at=T0.astimezone(paris)))
        got = store.get_request("r1")
        assert got is not None
        assert got.created_at == T0
        assert got.created_at.tzinfo is UTC

    def test_refuses_naive_datetimes(self, store: SqlStore) -> None:
        with pytest.raises(sa.exc.StatementError, match="naive datetime"):
            store.add_request(make_record(created_at=datetime(2026, 11, 29, 9, 0)))  # noqa: DTZ001

    def test_lists_by_user_and_state_in_creation_order(self, store: SqlStore) -> None:
        # Another role: one open request per person and target (migration 19).
        later = T0 + timedelta(minutes=1)
        store.add_request(make_record("r2", created_at=later, role_id=SECURITY_ADMIN))
        store.add_request(make_record("r1"))
        store.add_request(
            make_record(
                "r3", requester=slack("U9"), state=S.ACTIVE, created_at=T0 + timedelta(hours=1)
            )
        )
        assert [r.id for r in store.list_requests()] == ["r1", "r2", "r3"]
        assert [r.id for r in store.list_requests(requester=slack("U1"))] == ["r1", "r2"]
        assert [r.id for r in store.list_requests(states=frozenset({S.ACTIVE}))] == ["r3"]
        both = store.list_requests(requester=slack("U9"), states=PENDING)
        assert both == []

    def test_update_changes_fields_and_stamps_updated_at(
        self, store: SqlStore, clock: FakeClock
    ) -> None:
        store.add_request(make_record())
        clock.advance(60)
        updated = store.update_request("r1", card="C1 1.2")
        assert updated.card == "C1 1.2"
        assert updated.updated_at == clock.now()
        assert store.get_request("r1") == updated

    def test_update_refuses_state_unknown_fields_and_unknown_requests(
        self, store: SqlStore
    ) -> None:
        store.add_request(make_record())
        with pytest.raises(ValueError, match="transition"):
            store.update_request("r1", state=S.ACTIVE)
        with pytest.raises(ValueError, match="not ActivationRecord fields"):
            store.update_request("r1", colour="blue")
        with pytest.raises(KeyError):
            store.update_request("nope", error="x")


class TestTransition:
    def test_moves_state_and_applies_changes_when_the_state_is_expected(
        self, store: SqlStore, clock: FakeClock
    ) -> None:
        store.add_request(make_record())
        clock.advance(5)
        got = store.transition("r1", PENDING, S.CANCELLED, error="withdrawn")
        assert got is not None
        assert (got.state, got.error, got.updated_at) == (S.CANCELLED, "withdrawn", clock.now())
        assert store.get_request("r1") == got

    def test_answers_none_and_changes_nothing_when_another_writer_won(
        self, store: SqlStore
    ) -> None:
        store.add_request(make_record(state=S.DENIED))
        assert (
            store.transition("r1", PENDING, S.APPROVED, decided_by=slack("U2"), decided_at=T0)
            is None
        )
        assert store.get_request("r1") == make_record(state=S.DENIED)
        assert store.list_decisions("r1") == []

    def test_answers_none_for_an_unknown_request(self, store: SqlStore) -> None:
        assert store.transition("nope", PENDING, S.APPROVED) is None

    @pytest.mark.parametrize(
        ("expected", "new"),
        [
            (frozenset({S.ACTIVE}), S.PENDING_APPROVAL),
            (frozenset({S.PENDING_APPROVAL, S.ACTIVE}), S.APPROVED),
            (frozenset({S.DENIED}), S.APPROVED),
            (frozenset(), S.APPROVED),
        ],
    )
    def test_refuses_moves_the_state_machine_forbids(
        self, store: SqlStore, expected: frozenset[RequestState], new: RequestState
    ) -> None:
        store.add_request(make_record(state=S.ACTIVE))
        with pytest.raises(ValueError, match="not allowed"):
            store.transition("r1", expected, new)
        assert store.get_request("r1") == make_record(state=S.ACTIVE)

    def test_refuses_state_in_changes(self, store: SqlStore) -> None:
        store.add_request(make_record())
        with pytest.raises(ValueError):
            store.transition("r1", PENDING, S.APPROVED, state=S.DENIED)

    def test_records_a_decision_with_the_transition(self, store: SqlStore) -> None:
        store.add_request(make_record())
        store.transition(
            "r1",
            PENDING,
            S.DENIED,
            decided_by=slack("U2"),
            decided_at=T0,
            decision_reason="no ticket",
        )
        [decision] = store.list_decisions("r1")
        assert decision.decision is S.DENIED
        assert (decision.decided_by, decision.decided_at, decision.reason) == (
            slack("U2"),
            T0,
            "no ticket",
        )

    def test_other_transitions_record_no_decision(self, store: SqlStore) -> None:
        store.add_request(make_record(state=S.REQUESTED))
        store.transition("r1", frozenset({S.REQUESTED}), S.ACTIVATING)
        assert store.list_decisions("r1") == []

    def test_twenty_threads_racing_to_approve_make_exactly_one_winner(
        self, store: SqlStore
    ) -> None:
        store.add_request(make_record())
        counter = iter(range(100))

        def approve() -> ActivationRecord | None:
            who = slack(f"U{next(counter)}")
            return store.transition("r1", PENDING, S.APPROVED, decided_by=who, decided_at=T0)

        winners = [r for r in race(20, approve) if r is not None]
        assert len(winners) == 1
        [decision] = store.list_decisions("r1")
        assert decision.decided_by == winners[0].decided_by

    @pytest.mark.slow
    def test_two_engines_on_one_database_make_exactly_one_winner(
        self, store: SqlStore, database_url: str
    ) -> None:
        store.add_request(make_record())
        other = SqlStore(make_engine(database_url))
        stores = [store, other] * 10
        picks = iter(range(20))

        def approve() -> ActivationRecord | None:
            i = next(picks)
            return stores[i].transition(
                "r1", PENDING, S.APPROVED, decided_by=slack(f"U{i}"), decided_at=T0
            )

        try:
            winners = [r for r in race(20, approve) if r is not None]
        finally:
            other.close()
        assert len(winners) == 1
        assert len(store.list_decisions("r1")) == 1


class TestClaimEnd:
    """The compare-and-set behind "the same Extend / Deactivate twice acts once"."""

    END = T0 + timedelta(hours=1, microseconds=123)

    def _live(self, store: SqlStore) -> None:
        store.add_request(make_record(state=S.ACTIVE, start=T0, end=self.END))

    def test_moves_the_end_only_from_the_expected_one(self, store: SqlStore) -> None:
        self._live(store)
        later = self.END + timedelta(hours=1)

        claimed = store.claim_end("r1", self.END, later)

        assert claimed is not None and claimed.end == later
        assert store.claim_end("r1", self.END, later + timedelta(hours=1)) is None
        got = store.get_request("r1")
        assert got is not None and got.end == later

    def test_only_an_active_request(self, store: SqlStore) -> None:
        store.add_request(make_record(state=S.ENDED, start=T0, end=self.END))

        assert store.claim_end("r1", self.END, self.END + timedelta(hours=1)) is None

    def test_one_winner_among_racing_clicks(self, store: SqlStore) -> None:
        self._live(store)
        later = self.END + timedelta(hours=1)

        winners = [r for r in race(20, lambda: store.claim_end("r1", self.END, later)) if r]

        assert len(winners) == 1


class TestUserLinks:
    def test_saves_replaces_and_reads_a_link(self, store: SqlStore) -> None:
        link = UserLink(slack("U1"), "entra-1", "ada@contoso.com", "Ada", "email", T0)
        store.save_user_link(link)
        assert store.get_user_link(slack("U1")) == link
        moved = UserLink(slack("U1"), "entra-2", "ada@fabrikam.com", "Ada L", "config", T0)
        store.save_user_link(moved)
        assert store.get_user_link(slack("U1")) == moved
        assert store.get_user_link(slack("U2")) is None

    def test_many_links_are_read_at_once_in_chunks_and_the_unlinked_left_out(
        self, store: SqlStore
    ) -> None:
        # More people than one IN list holds (_IN_CHUNK): the board names everyone.
        people = [slack(f"U{i:04d}") for i in range(1, 1201)]
        for i, person in enumerate(people):
            if i % 3:  # every third person has no link
                store.save_user_link(
                    UserLink(person, f"entra-{i}", f"u{i}@contoso.com", f"User {i}", "email", T0)
                )
        found = store.user_links([*people, slack("U_NOBODY")])
        assert set(found) == {p for i, p in enumerate(people) if i % 3}
        assert found[slack("U0002")].display_name == "User 1"
        assert store.user_links([]) == {}


class TestEndedSince:
    """The board's recently ended elevations: requests ended now, whose end the audit
    trail dates at or after `since` (one read, not one per audit line)."""

    def end(self, store: SqlStore, request_id: str, at: datetime, kind: AuditKind) -> None:
        store.add_request(make_record(request_id, state=S.ACTIVE, start=T0, end=T0 + HOUR))
        store.transition(request_id, frozenset({S.ACTIVE}), S.ENDED)
        store.append_audit(AuditEvent(at=at, kind=kind, person=None, request_id=request_id))

    def test_only_ended_requests_whose_end_was_audited_since(self, store: SqlStore) -> None:
        self.end(store, "deactivated", T0 + HOUR, AuditKind.DEACTIVATED)
        self.end(store, "expired", T0 + HOUR, AuditKind.ENDED)
        self.end(store, "long-ago", T0 - 2 * HOUR, AuditKind.ENDED)
        # An audit line of another kind does not make an ended request "recently ended".
        self.end(store, "other-line", T0 + HOUR, AuditKind.EXTENDED)
        # Ended in the store without an audit line (a test's reset): not shown.
        store.add_request(make_record("silent", state=S.ACTIVE, start=T0, end=T0 + HOUR))
        store.transition("silent", frozenset({S.ACTIVE}), S.ENDED)
        # Audited as deactivated but live again (renewed): not ended.
        store.add_request(make_record("live", state=S.ACTIVE, start=T0, end=T0 + HOUR))
        store.append_audit(
            AuditEvent(at=T0 + HOUR, kind=AuditKind.DEACTIVATED, person=None, request_id="live")
        )
        assert [r.id for r in store.ended_since(T0)] == ["deactivated", "expired"]
        assert {r.id for r in store.ended_since(T0 - 3 * HOUR)} == {
            "deactivated",
            "expired",
            "long-ago",
        }


class TestAudit:
    def test_appends_and_reads_back_in_order_with_filters(self, store: SqlStore) -> None:
        first = AuditEvent(
            at=T0,
            kind=AuditKind.REQUESTED,
            person=slack("U1"),
            entra_user_id="entra-1",
            role_id="role",
            role_name="User Administrator",
            target_kind=TargetKind.DIRECTORY_ROLE,
            scope=Scope("/"),
            duration=timedelta(hours=5),
            ticket="CONTOSO:Security-012345",
            justification="why",
            graph_request_id="g-1",
            request_id="r1",
            detail="d",
        )
        second = AuditEvent(at=T0 + timedelta(hours=1), kind=AuditKind.APPROVED, person=slack("U2"))
        third = AuditEvent(at=T0 - timedelta(hours=1), kind=AuditKind.ENDED, person=None)
        for event in (first, second, third):
            store.append_audit(event)
        assert store.audit_events() == [first, second, third]
        assert store.audit_events(since=T0) == [first, second]
        assert store.audit_events(person=slack("U2")) == [second]


HOUR = timedelta(hours=1)


class TestReminders:
    def plan(self, end: datetime) -> list[Reminder]:
        return reminder_plan(end, [timedelta(minutes=15)], T0, request_id="r1", start=T0)

    def lead_due(self, store: SqlStore, at: datetime = T0 + timedelta(minutes=45)) -> list[str]:
        """Claim what is due at `at` (the 15-minute reminder of an hour from T0) and mark
        it sent, as the reminder service does once its DM is queued."""
        ids = [r.id for r in store.claim_due_reminders(at, 10)]
        store.mark_reminders_sent(ids, at)
        return ids

    def test_saves_lists_and_claims_each_reminder_once(self, store: SqlStore) -> None:
        store.add_request(make_record(state=S.ACTIVE))
        plan = self.plan(T0 + timedelta(hours=1))
        store.save_reminders(plan)
        assert store.list_reminders(request_id="r1") == plan
        assert store.get_reminder("r1:ended") == plan[-1]
        assert self.lead_due(store) == ["r1:lead:900"]
        assert self.lead_due(store) == []
        assert [r.id for r in store.list_reminders(unsent_only=True)] == ["r1:ended"]
        sent = store.get_reminder("r1:lead:900")
        assert sent is not None and sent.sent_at == T0 + timedelta(minutes=45)

    def test_replanning_the_same_moment_keeps_sent_and_a_new_moment_resends(
        self, store: SqlStore
    ) -> None:
        store.add_request(make_record(state=S.ACTIVE))
        store.save_reminders(self.plan(T0 + timedelta(hours=1)))
        self.lead_due(store)
        store.save_reminders(self.plan(T0 + timedelta(hours=1)))  # a restart
        assert self.lead_due(store) == []
        store.save_reminders(self.plan(T0 + timedelta(hours=2)))  # an extension
        moved = store.get_reminder("r1:lead:900")
        assert moved is not None
        assert (moved.due_at, moved.sent_at) == (T0 + timedelta(hours=1, minutes=45), None)
        assert self.lead_due(store, T0 + timedelta(hours=1, minutes=45)) == ["r1:lead:900"]

    def test_deleting_forgets_unsent_reminders_and_names_them(self, store: SqlStore) -> None:
        store.add_request(make_record(state=S.ACTIVE))
        store.save_reminders(self.plan(T0 + timedelta(hours=1)))
        self.lead_due(store)
        assert store.delete_reminders("r1") == ["r1:ended"]
        assert [r.id for r in store.list_reminders()] == ["r1:lead:900"]

    def test_twenty_threads_claiming_due_reminders_make_one_sender_each(
        self, store: SqlStore
    ) -> None:
        store.add_request(make_record(state=S.ACTIVE))
        store.save_reminders(self.plan(T0 + timedelta(hours=1)))
        results = race(20, lambda: [r.id for r in store.claim_due_reminders(T0 + HOUR, 1)])
        assert sorted(r for claimed in results for r in claimed) == ["r1:ended", "r1:lead:900"]

    def test_roles_to_remind_are_those_of_live_activations_with_an_ends_in_due(
        self, store: SqlStore
    ) -> None:
        """What the read before a moment must cover (the reminder service's read ahead)."""
        ends = {"r1": T0 + HOUR, "r2": T0 + 2 * HOUR, "r3": T0 + HOUR}
        for n, (rid, state) in enumerate([("r1", S.ACTIVE), ("r2", S.ACTIVE), ("r3", S.ENDED)]):
            who = slack(f"U{n + 1}")
            store.add_request(make_record(rid, state=state, role_id=f"role-{rid}", requester=who))
            lead = [timedelta(minutes=15)]
            store.save_reminders(reminder_plan(ends[rid], lead, T0, request_id=rid, start=T0))
        assert store.roles_to_remind(T0 + timedelta(minutes=44)) == set()
        assert store.roles_to_remind(T0 + timedelta(minutes=45)) == {"role-r1"}  # r3 is over
        store.mark_reminders_sent(["r1:lead:900"], T0 + timedelta(minutes=45))
        assert store.roles_to_remind(T0 + HOUR) == set()  # r1's ended notice: nothing to ask
        assert store.roles_to_remind(T0 + timedelta(minutes=105)) == {"role-r2"}


class TestApproverPings:
    def test_each_ping_is_claimed_once_and_counted(self, store: SqlStore) -> None:
        assert store.pinged(["r1"]) == {}
        assert store.claim_ping("r1", PingKind.REMIND, 0, T0) is True
        assert store.claim_ping("r1", PingKind.REMIND, 0, T0) is False
        assert store.claim_ping("r1", PingKind.REMIND, 2, T0) is True  # #2 was skipped
        assert store.claim_ping("r1", PingKind.ESCALATE, 0, T0) is True
        assert store.claim_ping("r2", PingKind.REMIND, 0, T0) is True

        pinged = store.pinged(["r1", "r2", "r3"])

        assert pinged == {"r1": Pinged(2, 2, escalated=True), "r2": Pinged(1, 0)}

    def test_twenty_threads_claiming_one_ping_make_one_sender(self, store: SqlStore) -> None:
        results = race(20, lambda: store.claim_ping("r1", PingKind.ESCALATE, 0, T0))
        assert results.count(True) == 1


class TestOpening:
    def test_from_url_migrates_and_uses_wal_on_sqlite(self, tmp_path: Path) -> None:
        store = SqlStore.from_url(f"sqlite:///{tmp_path / 'bot.db'}")
        try:
            store.add_request(make_record())
            with store.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == BUSY_TIMEOUT_MS
        finally:
            store.close()

    def test_on_sqlite_readers_do_not_wait_for_another_process_writing(
        self, tmp_path: Path
    ) -> None:
        url = f"sqlite:///{tmp_path / 'bot.db'}"
        reader, writer = SqlStore.from_url(url), make_engine(url)
        reader.add_request(make_record())
        try:
            with writer.begin() as conn:  # holds the write lock until the block ends
                conn.exec_driver_sql("UPDATE requests SET error = 'in flight'")
                started = time.monotonic()
                assert reader.get_request("r1") == make_record()  # the committed snapshot
                assert time.monotonic() - started < 1
        finally:
            reader.close()
            writer.dispose()

    def test_an_in_memory_database_is_shared_across_threads(self) -> None:
        store = SqlStore.from_url("sqlite://")
        store.add_request(make_record())
        results = race(8, lambda: store.get_request("r1"))
        assert results == [make_record()] * 8

    def test_satisfies_the_store_protocol(self, engine: Engine) -> None:
        implementation: Store = SqlStore(engine)
        assert implementation.get_request("r1") is None

    @pytest.mark.parametrize("url", ["postgres://u@db/pim", "postgresql://u@db/pim"])
    def test_plain_postgresql_urls_use_psycopg_3(self, url: str) -> None:
        assert normalise_url(url).drivername == "postgresql+psycopg"


def test_a_second_open_request_for_one_target_is_refused(store: SqlStore) -> None:
    """Two replicas both passing the service's "already requested?" check (a command sent
    twice) cannot both store: the second insert is refused (migration 19's index); a
    closed request, or another target, does not stand in the way."""
    store.add_request(make_record("r1"))
    with pytest.raises(DuplicateRequest):
        store.add_request(make_record("r2", state=S.REQUESTED))
    store.add_request(make_record("r3", role_id=SECURITY_ADMIN))
    store.transition("r1", frozenset({S.PENDING_APPROVAL}), S.CANCELLED)
    store.add_request(make_record("r4"))
    assert [r.id for r in store.list_requests()] == ["r1", "r3", "r4"]
