"""What the policy allows of an extension (issue 15), and how the extension card reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.extensions import check_extension
from bot.domain.models import RolePolicy
from bot.domain.people import slack
from bot.domain.requests import ActivationRecord, RequestState
from bot.domain.targets import Scope, TargetKind
from bot.errors import PolicyViolation
from handlers.blocks.cards import approval_card, decision_dm

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
FOUR_HOURS = RolePolicy(max_duration=4 * H)


def _check(policy: RolePolicy, end: datetime, new_end: datetime, done: int = 0) -> None:
    check_extension(
        policy,
        role_name="Global Administrator",
        first_start=T0,
        current_end=end,
        new_end=new_end,
        done=done,
    )


def test_within_the_maximum_from_the_first_start_passes() -> None:
    _check(FOUR_HOURS, T0 + H, T0 + 4 * H)


def test_past_the_maximum_says_how_much_is_left() -> None:
    used = 3 * H + timedelta(minutes=10)
    with pytest.raises(PolicyViolation) as err:
        _check(FOUR_HOURS, T0 + used, T0 + used + H)
    assert err.value.user_message == (
        "Global Administrator allows 4 hours in all, counted from its first activation; "
        "3 hours 10 minutes used, so you can extend by at most 50 minutes."
    )


def test_nothing_left_says_so() -> None:
    with pytest.raises(PolicyViolation, match="can't be extended any further"):
        _check(FOUR_HOURS, T0 + 4 * H, T0 + 5 * H)


@pytest.mark.parametrize(
    ("allowed", "done", "words"),
    [
        (1, 1, "can be extended once per activation"),
        (2, 2, "this one has been extended 2 times"),
        (0, 0, "can't be extended (pimbot.yml `max_extensions: 0`)"),
    ],
)
def test_max_extensions_is_a_cap_per_chain(allowed: int, done: int, words: str) -> None:
    policy = RolePolicy(max_duration=8 * H, max_extensions=allowed)
    with pytest.raises(PolicyViolation) as err:
        _check(policy, T0 + H, T0 + 2 * H, done)
    assert words in err.value.user_message


def test_below_max_extensions_passes() -> None:
    _check(RolePolicy(max_duration=8 * H, max_extensions=2), T0 + H, T0 + 2 * H, 1)


def _extension(state: RequestState, **changes: object) -> ActivationRecord:
    record = ActivationRecord(
        id="R-EXT",
        requester=slack("U_ALINE"),
        principal_id="entra-1",
        role_id="role-1",
        role_name="Global Administrator",
        target_kind=TargetKind.DIRECTORY_ROLE,
        scope=Scope("/"),
        duration=H,
        justification="need tenant-wide settings change",
        ticket=None,
        state=state,
        created_at=T0,
        updated_at=T0,
        extends="R-FIRST",
        extends_end=T0 + H,
    )
    return record.with_changes(**changes)


def test_the_extension_card_is_marked_with_the_current_and_new_end() -> None:
    card = json.dumps(approval_card(_extension(RequestState.PENDING_APPROVAL), T0 + 24 * H))
    assert "Extension approval needed" in card and "*Extension*" in card
    assert "Now ends:" in card and "New end:" in card and "R-FIRST" in card
    assert "Approve this extension?" in card


def test_an_applied_extension_reads_as_one_on_the_card_and_to_the_requester() -> None:
    done = _extension(RequestState.ENDED, end=T0 + 2 * H, decided_by=slack("U_ADMIN"))
    assert "Approved and extended until" in json.dumps(approval_card(done, None))
    assert "Your extension of" in decision_dm(done, None)["text"]
    failed = _extension(RequestState.FAILED, decided_by=slack("U_ADMIN"))
    assert "but extending it failed" in decision_dm(failed, "it ended")["text"]
