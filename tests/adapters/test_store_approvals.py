"""The approvals table (four eyes) on SQLite and PostgreSQL: each approver counted once,
and exactly one approval completes a request, however many race."""

from __future__ import annotations

import itertools
from datetime import timedelta

from bot.domain.approvals import Approval
from bot.domain.people import slack
from bot.domain.requests import RequestState
from bot.store import SqlStore
from tests.adapters.test_store import T0, make_record, race

S = RequestState
HOUR = timedelta(hours=1)


def _approval(user: str, duration: timedelta = 2 * HOUR) -> Approval:
    return Approval(slack(user), T0, duration)


def test_second_distinct_approval_completes_for_the_shortest_duration(store: SqlStore) -> None:
    store.add_request(make_record(duration=2 * HOUR))

    first = store.add_approval("r1", _approval("U_A", HOUR), 2)
    again = store.add_approval("r1", _approval("U_A"), 2)
    second = store.add_approval("r1", _approval("U_B"), 2)

    assert first is not None and first.new and first.record.state is S.PENDING_APPROVAL
    assert again is not None and not again.new and len(again.tally.approvals) == 1
    assert second is not None and second.record.state is S.APPROVED
    assert second.record.duration == HOUR and second.record.asked == 2 * HOUR
    assert second.record.decided_by == slack("U_B")
    assert len(store.list_decisions("r1")) == 1
    assert store.add_approval("r1", _approval("U_C"), 2) is None  # no longer pending


def test_counting_only_never_decides(store: SqlStore) -> None:
    """Entra decides a request it holds: pimbot only counts the approvals."""
    store.add_request(make_record())

    for user in ("U_A", "U_B", "U_C"):
        store.add_approval("r1", _approval(user), 2, decide=False)

    assert store.get_request("r1").state is S.PENDING_APPROVAL  # type: ignore[union-attr]
    assert len(store.tally("r1", 2).approvals) == 3


def test_racing_approvals_complete_the_request_exactly_once(store: SqlStore) -> None:
    store.add_request(make_record())
    numbers = itertools.count()  # a C iterator: next() is atomic across threads

    results = race(8, lambda: store.add_approval("r1", _approval(f"U_{next(numbers)}"), 3))

    completed = [r for r in results if r is not None and r.record.state is S.APPROVED]
    assert len(completed) == 1
    assert sum(r is None for r in results) == 5  # the rest found it decided
    assert len(store.tally("r1", 3).approvals) == 3
    assert len(store.list_decisions("r1")) == 1
