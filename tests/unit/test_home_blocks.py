"""The App Home and confirm dialogs as built: human words for every state, "nothing here"
for empty sections, what waits for an approver, and dialogs whose text is never cut
short (validated by slack_sdk.models, the library's copy of Slack's limits)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from slack_sdk.models.blocks import ConfirmObject
from slack_sdk.models.views import View

from bot.domain.people import slack
from bot.domain.requests import OPEN_STATES, RequestState
from bot.domain.targets import Scope
from handlers.blocks import cards
from handlers.blocks import home as home_tab
from handlers.blocks.base import confirm_dialog
from tests.unit.test_blocks import NOW, overview, record


def _texts(view: dict[str, object]) -> list[str]:
    return [b["text"]["text"] for b in view["blocks"] if b["type"] == "section"]  # type: ignore[index, union-attr]


def _valid(view: dict[str, object]) -> None:
    View(**view).validate_json()  # type: ignore[arg-type]


def test_each_empty_section_says_nothing_is_there() -> None:
    view = home_tab.home(overview(0))

    assert _texts(view) == [
        "*You can activate*",
        "_Nothing here._",
        "*Active now*",
        "_Nothing here._",
        "*Your requests*",
        "_Nothing here._",
    ]
    _valid(view)


@pytest.mark.parametrize("state", sorted(OPEN_STATES))
def test_a_request_is_described_in_words_not_by_its_state_name(state: RequestState) -> None:
    view = home_tab.home(replace(overview(0), pending=[record(state=state)]))

    (line,) = [t for t in _texts(view) if "R-" in t or "`" in t]
    assert state.name not in line and "pending_approval" not in line
    if state is RequestState.PENDING_APPROVAL:  # and how long, how often approvers were pinged
        assert f"Whole directory, {home_tab.DOING[state]} for " in line
        assert line.endswith(", not reminded yet")
    else:
        assert line.endswith(f"Whole directory, {home_tab.DOING[state]}")
    cancel = [
        b for b in view["blocks"] if b.get("accessory", {}).get("action_id") == "cancel_request"
    ]
    assert len(cancel) == (state is RequestState.PENDING_APPROVAL)


def test_an_approver_sees_what_waits_for_them_with_approve_and_deny() -> None:
    waiting = record(
        id="R-WAITING1",
        requester=slack("U_ALINE"),
        state=RequestState.PENDING_APPROVAL,
        created_at=NOW - timedelta(minutes=90),
        duration=timedelta(hours=1),
    )
    view = home_tab.home(replace(overview(1), waiting=(waiting,)))

    texts = _texts(view)
    assert texts[0] == "*Waiting for you*"
    assert texts[1] == (
        "<@U_ALINE> asks for *User Administrator* for 1 hour — Whole directory · "
        "`R-WAITING1`, waiting 1 hour 30 minutes, not reminded yet"
    )
    (actions,) = [b for b in view["blocks"] if b["type"] == "actions"]
    approve, deny = actions["elements"]
    assert (approve["action_id"], approve["value"]) == (home_tab.HOME_APPROVE, "R-WAITING1")
    assert (deny["action_id"], deny["value"]) == (cards.DENY_ACTION, "R-WAITING1")
    assert "Approve" in approve["confirm"]["confirm"]["text"]
    _valid(view)


def test_no_waiting_section_for_someone_nothing_waits_for() -> None:
    assert "Waiting for you" not in json.dumps(home_tab.home(overview(2)))


def test_a_confirm_dialog_keeps_its_whole_sentence_past_a_buttons_75_characters() -> None:
    long_role = "Role with a very long display name " * 10  # 350 characters
    pending = record(
        state=RequestState.PENDING_APPROVAL,
        role_name=long_role,
        scope=Scope("/administrativeUnits/1", "Paris Office"),
    )
    card = cards.approval_card(pending, NOW + timedelta(hours=24))
    (actions,) = [b for b in card["blocks"] if b["type"] == "actions"]
    confirm = actions["elements"][0]["confirm"]

    text = confirm["text"]["text"]
    assert len(text) == 300
    assert text.endswith("… for 5 hours becomes active for the requester as soon as you confirm.")
    ConfirmObject(**confirm).validate_json()


def test_a_short_confirm_dialog_is_not_touched() -> None:
    dialog = confirm_dialog("Sure?", "User Administrator (Whole directory)", " ends now.", "Yes")

    assert dialog["text"]["text"] == "User Administrator (Whole directory) ends now."
    ConfirmObject(**dialog).validate_json()


def test_home_deactivate_asks_first_naming_the_role_and_scope() -> None:
    view = home_tab.home(overview(1))

    (end,) = [
        b["accessory"]
        for b in view["blocks"]
        if b.get("accessory", {}).get("action_id") == "home_deactivate"
    ]
    assert end["confirm"]["text"]["text"].startswith("Role 0 (Whole directory) ends for you now.")
    assert end["confirm"]["style"] == "danger"
    _valid(view)
