"""Properties: no text makes the parsers fail with anything but a helpful InputError."""

from __future__ import annotations

import re
from datetime import timedelta

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.domain.command_types import Activate, Extend, OpenActivationForm
from bot.domain.commands import parse_command
from bot.domain.durations import MAX_DURATION, parse_duration, to_iso
from bot.domain.roles import RoleCatalog
from bot.errors import InputError
from bot.settings import TicketConfig

PATTERN = re.compile(TicketConfig().pattern)
WORDS = st.sampled_from(
    [
        "activate",
        "ACTIVATE",
        "list",
        "status",
        "deactivate",
        "extend",
        "cancel",
        "help",
        "user-admin",
        '"User',
        'Administrator"',
        "“Global",
        "Admin”",
        "5h",
        "0h",
        "-5h",
        "99d",
        "PT5H",
        "P",
        "1h30m",
        "CONTOSO:Security-012345",
        "CONTOSO:Sec-1",
        "<!channel>",
        "<@U1>",
        "<https://x.example|x>",
        "<mailto:a@b.c|a@b.c>",
        "&amp;",
        "&lt;",
        "`",
        "?",
        "\x00",
        "\u202e",
        "🔑",
        "重置",
        "'; DROP TABLE x; --",
        "<script>",
        "\n",
        "\t",
    ]  # fmt: skip
)
SENTENCES = st.lists(WORDS, max_size=10).map(" ".join)


def _parse(text: str) -> object:
    try:
        return parse_command(text, ticket_pattern=PATTERN)
    except InputError as exc:
        assert exc.user_message.strip()
        return exc


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=300), SENTENCES))
@example("activate " + "x" * 2000)
@example("activate user-admin 5h " + "why " * 600)
@example('activate "')
def test_any_text_is_a_command_or_a_helpful_input_error(text: str) -> None:
    _parse(text)


@settings(max_examples=200, deadline=None)
@given(SENTENCES)
def test_a_parsed_activation_is_valid_as_far_as_syntax_goes(text: str) -> None:
    cmd = _parse("activate " + text)
    if isinstance(cmd, Activate):
        assert timedelta(0) < cmd.duration <= MAX_DURATION
        assert cmd.role.strip() and cmd.justification.strip()
        assert cmd.ticket is None or PATTERN.fullmatch(cmd.ticket)
    if isinstance(cmd, OpenActivationForm | Extend) and cmd.duration is not None:
        assert timedelta(0) < cmd.duration <= MAX_DURATION


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
@example("9" * 40 + "d")
@example("P999999DT999999H")
def test_parse_duration_returns_a_sane_timedelta_or_input_error(text: str) -> None:
    try:
        value = parse_duration(text)
    except InputError as exc:
        assert exc.user_message.strip()
    else:
        assert timedelta(0) < value <= MAX_DURATION


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=60, max_value=int(MAX_DURATION.total_seconds())))
def test_iso_output_parses_back_to_the_same_duration(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(to_iso(value)) == value


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_role_lookup_never_fails_with_anything_but_input_error(text: str) -> None:
    try:
        role = RoleCatalog().resolve(text)
    except InputError as exc:
        assert "/pim list" in exc.user_message
    else:
        assert role.id and role.display_name
