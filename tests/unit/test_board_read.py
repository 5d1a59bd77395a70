"""The board's last read with pimbot's own changes applied (issue 17: a change redraws the
board without a tenant-wide Graph read)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain.models import ActiveAssignment
from bot.domain.people import slack
from bot.domain.requests import ActivationRecord, RequestState
from bot.domain.targets import Scope, TargetKind
from bot.service.board_read import LastRead

READ_AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
ROLE = "fe930be7-5e62-47db-91af-98c3a49a38b1"


def assignment(principal: str, end: datetime) -> ActiveAssignment:
    return ActiveAssignment(
        f"i-{principal}", TargetKind.DIRECTORY_ROLE, ROLE, principal, Scope("/"),
        READ_AT - timedelta(hours=1), end, "Activated",
    )  # fmt: skip


def record(
    principal: str, state: RequestState, updated: datetime, end: datetime
) -> ActivationRecord:
    return ActivationRecord(
        id=f"R-{principal}", requester=slack("U1"), principal_id=principal, role_id=ROLE,
        role_name="User Administrator", target_kind=TargetKind.DIRECTORY_ROLE, scope=Scope("/"),
        duration=timedelta(hours=1), justification="why", ticket=None, state=state,
        created_at=updated, updated_at=updated, graph_request_id=f"g-{principal}",
        start=end - timedelta(hours=1), end=end,
    )  # fmt: skip


LAST = LastRead((assignment("outside", READ_AT + timedelta(hours=2)),), READ_AT)


def test_a_new_activation_is_added_as_graph_answered_it() -> None:
    end = READ_AT + timedelta(hours=1)
    new = record("aline", RequestState.ACTIVE, READ_AT + timedelta(seconds=5), end)
    got = LAST.with_changes([new])
    assert [(a.principal_id, a.end) for a in got] == [
        ("outside", LAST.assignments[0].end),
        ("aline", end),
    ]


def test_an_ended_one_is_gone_and_a_renewed_one_has_its_new_end() -> None:
    old_end, new_end = READ_AT + timedelta(hours=1), READ_AT + timedelta(hours=3)
    last = LastRead((assignment("aline", old_end), assignment("diego", old_end)), READ_AT)
    later = READ_AT + timedelta(minutes=1)
    renewed = record("aline", RequestState.ACTIVE, later, new_end)
    ended = record("diego", RequestState.ENDED, later, later)
    got = last.with_changes([renewed, ended])
    assert [(a.principal_id, a.end) for a in got] == [("aline", new_end)]


def test_a_record_unchanged_since_the_read_leaves_graphs_answer_alone() -> None:
    # Ended outside pimbot after the read: the store still says active, from before.
    stale = record("outside", RequestState.ACTIVE, READ_AT - timedelta(minutes=1), READ_AT)
    assert LAST.with_changes([stale]) == list(LAST.assignments)
    assert LAST.fresh(READ_AT + timedelta(minutes=4), timedelta(minutes=5))
    assert not LAST.fresh(READ_AT + timedelta(minutes=5), timedelta(minutes=5))
