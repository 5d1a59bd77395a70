"""Reminder planning: pure timing from the activation window, lead times and now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.reminders import (
    Reminder,
    ReminderKind,
    ended_reminder_id,
    fire_time,
    lead_reminder_id,
    parse_reminder_id,
    reminder_plan,
    should_send,
)

START = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
END = START + timedelta(hours=5)
MIN = timedelta(minutes=1)
LEADS = [15 * MIN, 60 * MIN]


def plan(now: datetime, leads: list[timedelta] = LEADS, end: datetime = END) -> list[Reminder]:
    return reminder_plan(end, leads, now, request_id="r1", start=START)


def moments(reminders: list[Reminder]) -> list[tuple[str, datetime]]:
    return [(r.id, r.due_at) for r in reminders]


class TestPlanning:
    def test_reminds_at_each_lead_time_before_the_end_then_notes_the_end(self) -> None:
        assert moments(plan(START)) == [
            ("r1:lead:3600", END - 60 * MIN),
            ("r1:lead:900", END - 15 * MIN),
            ("r1:ended", END),
        ]

    def test_lead_reminders_carry_their_lead_and_kind(self) -> None:
        first = plan(START)[0]
        assert (first.kind, first.lead, first.request_id, first.sent_at) == (
            ReminderKind.LEAD,
            60 * MIN,
            "r1",
            None,
        )
        assert plan(START)[-1].kind is ReminderKind.ENDED

    def test_skips_a_lead_that_falls_before_the_activation_started(self) -> None:
        short_end = START + 30 * MIN
        assert moments(plan(START, end=short_end)) == [
            ("r1:lead:900", short_end - 15 * MIN),
            ("r1:ended", short_end),
        ]

    def test_ignores_duplicate_and_non_positive_lead_times(self) -> None:
        leads = [15 * MIN, 15 * MIN, timedelta(0), -MIN]
        assert [r.id for r in plan(START, leads)] == ["r1:lead:900", "r1:ended"]

    def test_without_a_known_start_keeps_every_lead(self) -> None:
        got = reminder_plan(START + 30 * MIN, LEADS, START, request_id="r1")
        assert [r.id for r in got] == ["r1:lead:3600", "r1:lead:900", "r1:ended"]

    def test_planning_twice_gives_the_same_ids(self) -> None:
        assert plan(START) == plan(START)


class TestAfterARestart:
    def test_a_reminder_missed_while_down_is_sent_late_while_the_activation_is_live(
        self,
    ) -> None:
        now = END - 30 * MIN  # the 60-minute reminder was due half an hour ago
        got = plan(now)
        assert [r.id for r in got] == ["r1:lead:3600", "r1:lead:900", "r1:ended"]
        assert fire_time(got[0], now) == now
        assert fire_time(got[1], now) == END - 15 * MIN

    def test_of_several_missed_reminders_only_the_latest_is_sent(self) -> None:
        now = END - 5 * MIN
        assert [r.id for r in plan(now)] == ["r1:lead:900", "r1:ended"]

    def test_after_the_end_only_the_ended_notice_is_left(self) -> None:
        for now in (END, END + 3 * MIN):
            got = plan(now)
            assert moments(got) == [("r1:ended", END)]
            assert fire_time(got[0], now) == now

    def test_a_reminder_due_exactly_now_is_sent_now(self) -> None:
        now = END - 15 * MIN
        assert [r.id for r in plan(now)] == ["r1:lead:900", "r1:ended"]


class TestSending:
    def test_a_lead_reminder_goes_out_only_while_the_activation_is_live(self) -> None:
        lead = plan(START)[1]
        assert should_send(lead, END, END - MIN)
        assert not should_send(lead, END, END)
        assert not should_send(lead, None, START)

    def test_the_ended_notice_always_goes_out(self) -> None:
        assert should_send(plan(START)[-1], END, END + 60 * MIN)


class TestIds:
    def test_ids_follow_the_documented_shape(self) -> None:
        assert lead_reminder_id("r1", 15 * MIN) == "r1:lead:900"
        assert ended_reminder_id("r1") == "r1:ended"

    @pytest.mark.parametrize(
        ("reminder_id", "parsed"),
        [
            ("r1:lead:900", ("r1", ReminderKind.LEAD, 15 * MIN)),
            ("r1:ended", ("r1", ReminderKind.ENDED, None)),
            ("a:b:lead:60", ("a:b", ReminderKind.LEAD, MIN)),
        ],
    )
    def test_parses_ids_back(
        self, reminder_id: str, parsed: tuple[str, ReminderKind, timedelta | None]
    ) -> None:
        assert parse_reminder_id(reminder_id) == parsed

    @pytest.mark.parametrize("bad", ["", "r1", ":ended", "r1:lead:x", "r1:soon:60", "lead:60"])
    def test_refuses_what_is_not_a_reminder_id(self, bad: str) -> None:
        with pytest.raises(ValueError, match="not a reminder id"):
            parse_reminder_id(bad)
