"""`/pim who` and `/pim history` (issue 16): parsing, stages, and the board's blocks, whose
names (read from Graph) and tickets are someone else's text and never markup."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.board import (
    ActivationHistory,
    Board,
    Elevation,
    PastActivation,
    Stage,
    stage_of,
)
from bot.domain.commands import History, UsageError, Who, parse_command
from bot.domain.models import Ticket
from bot.domain.people import slack
from bot.domain.targets import Scope
from bot.settings import PolicyFile, TicketConfig
from bot.simulators.workspace.limits import blocks_too_long
from handlers.blocks.board import board_message, history_message, who_message

PATTERN = re.compile(TicketConfig().pattern)
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
LEAD = timedelta(minutes=15)


def parse(text: str) -> object:
    return parse_command(text, ticket_pattern=PATTERN)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("who", Who()),
        ("history", History()),
        ("history user-admin", History(None, "user-admin")),
        ("history <@U0ALEX1|alex>", History("U0ALEX1", None)),
        ("history <@U0ALEX1>", History("U0ALEX1", None)),
        ("history <@U0ALEX1|alex> user-admin", History("U0ALEX1", "user-admin")),
        ('history "User Administrator" <@U0ALEX1|alex>', History("U0ALEX1", "User Administrator")),
    ],
)
def test_who_and_history_parse(text: str, expected: object) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("who everyone", "`who` takes nothing"),
        ("history @alex", "Pick the person from Slack's @ list"),
        ("history <@U1|a> <@U2|b>", "one person"),
        ('history "User Administrator" extra', "one role"),
    ],
)
def test_who_and_history_refuse_what_they_cannot_mean(text: str, says: str) -> None:
    with pytest.raises(UsageError, match=re.escape(says)):
        parse(text)


def test_viewers_take_the_forms_of_approvers_and_nothing_else() -> None:
    policy = PolicyFile.model_validate({"viewers": {"slack_users": ["U1"], "entra_groups": ["g"]}})
    assert policy.viewers.slack_users == ["U1"] and policy.viewers.entra_groups == ["g"]
    with pytest.raises(ValueError, match="viewers.emails"):
        PolicyFile.model_validate({"viewers": {"emails": ["a@b.c"]}})


@pytest.mark.parametrize(
    ("until", "stage"),
    [
        (None, Stage.IN_EFFECT),  # permanent
        (NOW + timedelta(hours=1), Stage.IN_EFFECT),
        (NOW + timedelta(minutes=14), Stage.EXPIRING),
        (NOW, Stage.ENDED),
    ],
)
def test_stage_follows_the_end_and_the_reminder_lead(until: datetime | None, stage: Stage) -> None:
    assert stage_of(until, NOW, LEAD) is stage


def _elevation(name: str = "Diego", **kw: object) -> Elevation:
    values: dict[str, object] = {
        "principal_id": "p1",
        "principal_name": name,
        "role_id": "r1",
        "role_name": "User Administrator",
        "scope": Scope("/"),
        "since": NOW - timedelta(hours=1),
        "until": NOW + timedelta(hours=1),
        "stage": Stage.IN_EFFECT,
    } | kw
    return Elevation(**values)  # type: ignore[arg-type]


def test_a_name_from_graph_and_a_ticket_are_shown_as_text_never_as_markup() -> None:
    hostile = "<!channel> *Mallory* <https://evil.example|click>"
    board = Board(NOW, (_elevation(hostile, ticket=Ticket("<!here>", "X")),))

    text = json.dumps(board_message(board)["blocks"])

    assert "<!channel>" not in text and "<!here>" not in text and "<https://evil" not in text
    assert "&lt;!channel&gt;" in text and "*not via pimbot*" in text


def test_pimbots_elevation_names_its_requester_and_ticket() -> None:
    mine = _elevation(
        requester=slack("U_ALINE"), request_id="R-1", ticket=Ticket("CONTOSO:S-1", "CONTOSO")
    )
    (line,) = [b["text"]["text"] for b in who_message(Board(NOW, (mine,)))["blocks"][1:2]]
    assert "<@U_ALINE>" in line and "via pimbot" in line and "not via" not in line
    assert "`CONTOSO:S-1`" in line and "in effect" in line


def test_a_partial_board_says_so_and_an_empty_one_says_nobody() -> None:
    shown = json.dumps(who_message(Board(NOW, (), partial=True)))
    assert "You see only your own" in shown and "Nobody holds" in shown


def test_a_long_board_fits_one_message() -> None:
    """In blocks, and in size: 46 lines of pimbot's elevations (requester, ticket) were
    past what Slack takes in one message (`msg_blocks_too_long`, which the fakes enforce)."""
    mine = {"requester": slack("U_ALINE"), "ticket": Ticket("CONTOSO:Security-012345", "X")}
    many = tuple(_elevation(f"user {i}", **mine) for i in range(80))
    blocks = board_message(Board(NOW, many))["blocks"]
    assert len(blocks) <= 50 and not blocks_too_long(blocks)
    shown = sum(1 for b in blocks if "user " in json.dumps(b))
    assert f"…and {80 - shown} more." in json.dumps(blocks[-2], ensure_ascii=False)
    assert 20 < shown < 46


def test_a_long_history_fits_one_message_and_says_what_it_left_out() -> None:
    past = tuple(
        PastActivation(
            slack("U_A"), f"Role {i}", Scope("/"), NOW, LEAD, "CONTOSO:S-1", slack("U_B"), "R-1"
        )
        for i in range(60)
    )
    blocks = history_message(ActivationHistory(slack("U_A"), None, past))["blocks"]
    shown = sum(1 for b in blocks if "Role " in json.dumps(b))
    assert len(blocks) <= 50 and not blocks_too_long(blocks) and shown > 20
    assert f"…and {60 - shown} older, not shown." in json.dumps(blocks[-1], ensure_ascii=False)


def test_history_names_the_approver_or_says_none_was_needed() -> None:
    past = [
        PastActivation(
            slack("U_A"), "Global Administrator", None, NOW, LEAD, None, slack("U_B"), "R-1"
        ),
        PastActivation(
            slack("U_A"), "User Administrator", Scope("/"), NOW, None, "T-1", None, "R-2"
        ),
    ]
    lines = json.dumps(history_message(ActivationHistory(slack("U_A"), None, tuple(past))))
    assert "approved by <@U_B>" in lines and "no approval needed" in lines and "`T-1`" in lines
