"""`/pim login` and `/pim logout`: parsing and help (signed-in-user mode)."""

from __future__ import annotations

import re

import pytest

from bot.domain.commands import Command, Help, Login, Logout, parse_command
from bot.errors import InputError
from bot.settings import TicketConfig
from handlers.blocks.help import help_text

PATTERN = re.compile(TicketConfig().pattern)


def parse(text: str) -> Command:
    return parse_command(text, ticket_pattern=PATTERN)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("login", Login()),
        ("  LOGIN ", Login()),
        ("logout", Logout()),
        ("Logout", Logout()),
        ("help login", Help(topic="login")),
        ("help logout", Help(topic="logout")),
    ],
)
def test_login_and_logout_parse(text: str, expected: Command) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize("text", ["login now", "logout everyone"])
def test_login_and_logout_take_nothing_after_them(text: str) -> None:
    with pytest.raises(InputError, match=r"takes nothing after it"):
        parse(text)


def test_help_for_login_names_the_command_with_an_example() -> None:
    assert help_text("login").startswith("`/pim login`")
    assert "Example: `/pim logout`" in help_text("logout")


def test_full_help_lists_login_only_in_signed_in_user_mode() -> None:
    assert "/pim login" not in help_text()
    assert "/pim logout" not in help_text()
    full = help_text(signin=True)
    assert "/pim login" in full and "/pim logout" in full and "/pim activate" in full
