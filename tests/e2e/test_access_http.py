"""The real bot in the local workspace (`pimbot run` without credentials), over real HTTP:
the seeded guest, deactivated account, Slack Connect partner and account without an email
are each refused with their reason, by `/pim` and on the App Home; Aline is not.

The workspace answers users.info with Slack's user-object fields for them
(https://api.slack.com/types/user): `is_restricted`, `deleted`, another `team_id`, no
`profile.email`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.cast import ALINE, ISAIAH, KAI, NESTOR, NOMAIL
from tests.support.live import wait_for_state
from tests.support.real_bot import RealBot

pytestmark = pytest.mark.slow  # a whole bot and sandbox tenant per module

REFUSED = [
    (ISAIAH.slack_id, "Guest accounts can't use pimbot"),
    (NESTOR.slack_id, "Your Slack account is deactivated"),
    (KAI.slack_id, "from another organisation (Slack Connect)"),
    (NOMAIL.slack_id, "I can't see a verified email on your Slack profile"),
]


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealBot]:
    with RealBot(Path(tmp_path_factory.mktemp("access"))) as real:
        yield real


def _ui(bot: RealBot, path: str, **body: Any) -> None:
    answer = httpx.post(f"{bot.url}/ui/{path}", json=body, timeout=10).json()
    assert answer["ok"], answer


def _dm(user: str) -> str:
    return f"D_{user.removeprefix('U_')}"


def _answer(bot: RealBot, user: str) -> str:
    """`/pim list` in the person's DM with the bot; the bot's reply that replaced the ack."""
    _ui(bot, "send", user=user, channel=_dm(user), text="/pim list")

    def answers(state: dict[str, Any]) -> list[str]:
        said = [m["text"] for m in state["messages"][_dm(user)] if m["user"] == "U_PIMBOT"]
        return [text for text in said if "Working on it" not in text]

    state = wait_for_state(bot.url, user, answers, timeout=20)
    (answer,) = answers(state)  # the "Working on it…" ack aside, one answer
    return answer


@pytest.mark.parametrize(("user", "says"), REFUSED)
def test_pim_is_refused_with_the_reason(bot: RealBot, user: str, says: str) -> None:
    answer = _answer(bot, user)

    assert answer.startswith(":warning:") and says in answer


def test_a_member_is_answered(bot: RealBot) -> None:
    assert "eligible" in _answer(bot, ALINE.slack_id)


@pytest.mark.parametrize(("user", "says"), REFUSED)
def test_the_app_home_shows_the_reason(bot: RealBot, user: str, says: str) -> None:
    _ui(bot, "home", user=user)

    state = wait_for_state(bot.url, user, lambda s: s["home"] is not None, timeout=20)

    home = json.dumps(state["home"]["blocks"])
    assert says in home
    assert "Sign in" not in home and "Activate" not in home
