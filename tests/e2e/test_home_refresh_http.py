"""The App Home over real HTTP (signed events and clicks, the fake Slack Web API): it is
published again after every change that concerns its viewer, names no internal state,
says when a section is empty, and shows approvers what waits for them."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.domain.requests import RequestState
from tests.support.approval_stack import ApprovalStack
from tests.support.cast import TICKET
from tests.support.payloads import block_actions, deny_submission

pytestmark = pytest.mark.slow  # a whole bot over HTTP, several round trips per test

ADMIN, ALINE = "U_ADMIN", "U_ALINE"
INTERNAL = [s.value for s in RequestState] + [s.name for s in RequestState]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApprovalStack]:
    with ApprovalStack(Path(tmp_path_factory.mktemp("homes"))) as stack:
        yield stack


@pytest.fixture
def bot(running: ApprovalStack) -> ApprovalStack:
    running.reset()
    return running


def _homes(bot: ApprovalStack, user: str) -> list[dict[str, Any]]:
    calls = bot.slack.calls("views.publish")
    return [c.body["view"] for c in calls if c.body["user_id"] == user]


def _home_once(
    bot: ApprovalStack, user: str, check: Callable[[str], bool], timeout: float = 15.0
) -> dict[str, Any]:
    """The user's latest published Home, once it satisfies `check` (on its JSON)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        homes = _homes(bot, user)
        if homes and check(json.dumps(homes[-1], ensure_ascii=False)):
            return homes[-1]
        time.sleep(0.02)
    raise AssertionError(f"no Home for {user} as expected; last: {_homes(bot, user)[-1:]}")


def _open(bot: ApprovalStack, user: str) -> dict[str, Any]:
    bot.event({"type": "app_home_opened", "user": user, "tab": "home"})
    return _home_once(bot, user, lambda _: True)


def _texts(view: dict[str, Any]) -> str:
    """What the viewer reads: section and context texts, in order."""
    out = []
    for block in view["blocks"]:
        if block["type"] == "section":
            out.append(block["text"]["text"])
        elif block["type"] == "context":
            out += [e["text"] for e in block["elements"]]
    return "\n".join(out)


def _no_internal_names(view: dict[str, Any]) -> None:
    shown = _texts(view)
    for name in INTERNAL:
        assert f", {name}" not in shown and name.upper() not in shown.split()


def test_an_approval_shows_on_both_homes_from_request_to_activation(bot: ApprovalStack) -> None:
    _open(bot, ADMIN)
    _open(bot, ALINE)

    request_id, _ = bot.pending()

    admin = _home_once(bot, ADMIN, lambda j: request_id in j)
    shown = _texts(admin)
    assert shown.startswith("*Waiting for you*")
    assert "<@U_ALINE> asks for *Global Administrator* for 1 hour — Whole directory" in shown
    assert "waiting less than a minute, not reminded yet" in shown
    (actions,) = [b for b in admin["blocks"] if b["type"] == "actions"]
    approve, deny = actions["elements"]
    assert (approve["action_id"], approve["value"]) == ("home_approve", request_id)
    assert (deny["action_id"], deny["value"]) == ("approval_deny", request_id)
    assert approve["confirm"]["text"]["text"].endswith("as soon as you confirm.")
    aline = _home_once(bot, ALINE, lambda j: request_id in j)
    assert f"`{request_id}` *Global Administrator* for 1 hour" in _texts(aline)
    assert "waiting for an approver" in _texts(aline)
    assert "Waiting for you" not in _texts(aline)  # her own request is not hers to decide
    _no_internal_names(aline)

    reply = bot.interact(block_actions(ADMIN, "home_approve", request_id, home=True))

    assert reply.status == 200
    assert f"You approved `{request_id}`" in bot.dm(ADMIN, "You approved")["text"]
    aline = _home_once(
        bot, ALINE, lambda j: "Global Administrator* — Whole directory, 59 minutes left" in j
    )
    assert "*Your requests*\n_Nothing here._" in _texts(aline)
    admin = _home_once(bot, ADMIN, lambda j: request_id not in j)
    assert "Waiting for you" not in _texts(admin)


def test_a_denial_and_an_expiry_clear_what_was_waiting(bot: ApprovalStack) -> None:
    _open(bot, ADMIN)
    _open(bot, ALINE)
    denied, _ = bot.pending()
    _home_once(bot, ADMIN, lambda j: denied in j)

    bot.interact(block_actions(ADMIN, "approval_deny", denied, home=True))  # Deny on the Home
    (opened,) = bot.slack.wait_for("views.open")
    bot.interact(deny_submission(opened.body["view"], ADMIN, "not during the change freeze"))

    _home_once(bot, ADMIN, lambda j: denied not in j)
    aline = _home_once(bot, ALINE, lambda j: denied not in j)
    assert "*Your requests*\n_Nothing here._" in _texts(aline)

    expired, _ = bot.pending()
    _home_once(bot, ADMIN, lambda j: expired in j)
    bot.sweep(advance=25 * 3600)
    _home_once(bot, ADMIN, lambda j: expired not in j)
    _home_once(bot, ALINE, lambda j: expired not in j)


def test_a_command_that_activates_or_ends_a_role_refreshes_the_home(bot: ApprovalStack) -> None:
    first = _open(bot, ALINE)
    assert "*Active now*\n_Nothing here._" in _texts(first)

    bot.final(bot.command(f"activate user-admin 2h {TICKET} reset tokens for a locked account"))
    active = _home_once(
        bot, ALINE, lambda j: "User Administrator* — Whole directory, 1 hour 59 minutes left" in j
    )
    _no_internal_names(active)

    bot.clock.advance(5 * 60)  # Entra refuses a deactivation within 5 minutes
    bot.final(bot.command("deactivate user-admin"))
    ended = _home_once(bot, ALINE, lambda j: "minutes left" not in j)
    assert "*Active now*\n_Nothing here._" in _texts(ended)
