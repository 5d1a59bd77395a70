"""When an undecided request re-pings its approvers and escalates (bot.domain.nudges), the
pimbot.yml names that set it, and the words the requester and approvers read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain.nudges import (
    Audience,
    Ping,
    Pinged,
    PingKind,
    latest_reminder,
    pings_due,
    reminder_due,
)
from bot.domain.people import slack
from bot.domain.requests import RequestState
from bot.errors import ConfigError
from bot.service.ports import Nudge
from bot.settings import load_policy_file
from bot.simulators.workspace.limits import blocks_too_long
from handlers.blocks import nudges
from tests.support.records import activation_record

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
FIRST = 15 * MIN


def test_each_interval_doubles_from_the_request() -> None:
    due = [reminder_due(T0, FIRST, seq) - T0 for seq in range(4)]

    assert due == [15 * MIN, 45 * MIN, 105 * MIN, 225 * MIN]


def test_nothing_is_due_before_the_first_interval() -> None:
    assert latest_reminder(T0, FIRST, T0 + 14 * MIN) == -1
    assert pings_due(T0, T0 + 14 * MIN, Pinged(), FIRST, 60 * MIN) == []


def test_the_next_reminder_and_the_escalation_fall_due_on_time() -> None:
    once = Pinged(reminded=1, last=0)

    assert pings_due(T0, T0 + 44 * MIN, once, FIRST, 60 * MIN) == []
    assert pings_due(T0, T0 + 45 * MIN, once, FIRST, 60 * MIN) == [Ping(PingKind.REMIND, 1)]
    twice = Pinged(reminded=2, last=1)
    assert pings_due(T0, T0 + 60 * MIN, twice, FIRST, 60 * MIN) == [Ping(PingKind.ESCALATE, 0)]
    escalated = Pinged(reminded=2, last=1, escalated=True)
    assert pings_due(T0, T0 + 100 * MIN, escalated, FIRST, 60 * MIN) == []


def test_reminders_missed_while_the_bot_was_down_are_not_sent_in_a_burst() -> None:
    # Down from 10 min to 110 min: one reminder (the latest due, #3), not three.
    due = pings_due(T0, T0 + 110 * MIN, Pinged(), FIRST, None)

    assert due == [Ping(PingKind.REMIND, 2)]
    assert pings_due(T0, T0 + 200 * MIN, Pinged(reminded=1, last=2), FIRST, None) == []


def test_escalation_and_reminders_need_both_names_and_a_positive_interval(
    tmp_path: Path,
) -> None:
    def load(role: str) -> object:
        path = tmp_path / "pimbot.yml"
        path.write_text(f"roles:\n  ga:\n    role: Global Administrator\n{role}")
        return load_policy_file(path)

    with pytest.raises(ConfigError, match="escalate_after and escalate_to go together"):
        load("    escalate_after: 1h\n")
    with pytest.raises(ConfigError, match="escalate_after and escalate_to go together"):
        load("    escalate_to: {slack_users: [U1]}\n")
    with pytest.raises(ConfigError, match="remind_approvers_after: '0m' is not a duration"):
        load("    remind_approvers_after: 0m\n")
    with pytest.raises(ConfigError, match="escalate_to.slack_user is not a known setting"):
        load("    escalate_after: 1h\n    escalate_to: {slack_user: [U1]}\n")
    loaded = load("    escalate_after: 1h\n    escalate_to: {slack_usergroups: [S1]}\n")
    role = loaded.roles["ga"]  # type: ignore[attr-defined]
    assert role.remind_approvers_after == FIRST  # the default
    assert role.escalate_after == 60 * MIN and role.escalate_to.slack_usergroups == ["S1"]


def test_the_requester_reads_how_long_and_how_often() -> None:
    assert nudges.waiting_text(40 * MIN, Pinged(2, 1)) == "waiting 40 minutes, reminded twice"
    assert nudges.waiting_text(10 * MIN, None) == "waiting 10 minutes, not reminded yet"
    assert nudges.waiting_text(70 * MIN, Pinged(3, 2, escalated=True)) == (
        "waiting 1 hour 10 minutes, reminded 3 times, escalated"
    )


def test_a_ping_mentions_users_and_groups_and_no_markup_from_a_bad_group_id() -> None:
    record = activation_record(
        id="R-WAITING1", requester=slack("U_ALINE"), state=RequestState.PENDING_APPROVAL
    )
    audience = Audience(
        (slack("U_ADMIN"), slack("U1> <!here")), ("S_PIM_APPROVERS", "S1> <!channel")
    )

    msg = nudges.ping(record, audience, Nudge(PingKind.REMIND, 1, 45 * MIN, 2))

    assert msg["text"].startswith(":bell: <!subteam^S_PIM_APPROVERS> <@U_ADMIN> `R-WAITING1`")
    assert "<!channel" not in msg["text"] and "<!here" not in msg["text"]
    assert "reminder 2" in msg["text"]
    nobody = nudges.ping(record, Audience(), Nudge(PingKind.ESCALATE, 0, 60 * MIN, 2))
    assert "Escalation" in nobody["text"] and "No approver" in nobody["text"]
    assert "reminded twice" in nobody["text"]


def test_a_long_list_of_approvers_is_cut_at_whole_mentions() -> None:
    many = Audience(tuple(slack(f"U{i:03d}") for i in range(45)), ("S1",))

    text = nudges.audience_text(many)

    assert text.startswith("<!subteam^S1> <@U000> ") and text.endswith(
        "<@U038> and 6 more approvers"
    )


def test_a_long_queue_shows_whole_requests_within_what_one_message_takes() -> None:
    """Twenty requests with their confirmed Approve and Deny were past the size Slack
    refuses in one message (`msg_blocks_too_long`, which the fakes enforce)."""
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    waiting = tuple(activation_record(id=f"R-{i:08d}") for i in range(25))
    blocks = nudges.queue(waiting, {}, now)["blocks"]
    shown = [b for b in blocks if b.get("type") == "actions"]
    assert not blocks_too_long(blocks) and len(blocks) <= 50
    assert 5 < len(shown) < 20 and len(blocks) == 2 + 2 * len(shown)
    assert f"{25 - len(shown)} newer ones are not shown" in blocks[-1]["elements"][0]["text"]
