"""Properties: no text makes the parsers fail with anything but a helpful InputError."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from hypothesis import event, example, given, settings
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


# Well-formed activations: a role, a duration, maybe a ticket, a justification. Mixed into
# the random sentences below so the Activate branch is exercised on every run (random
# word lists alone rarely parse as a whole activation). Slack entities (`&amp;`) are left
# out of the reasons: the parser unescapes them, as it should.
ROLE_NAMES = st.sampled_from(
    ["user-admin", "global-admin", '"User Administrator"', "security-admin"]
)
DURATION_TEXTS = {"30m": 30, "5h": 300, "1h30m": 90, "1d": 1440, "PT5H": 300, "8h": 480}
TICKETS = st.none() | st.from_regex(r"CONTOSO:[A-Za-z]{1,12}-\d{6}", fullmatch=True)
REASONS = st.lists(
    st.sampled_from(["reset", "tokens", "for", "Sara", "🔑", "重置", "?", "MFA"])
    | st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2),
    min_size=1,
    max_size=8,
).map(" ".join)


@st.composite
def well_formed(draw: st.DrawFn) -> tuple[str, Activate]:
    """The text after `activate`, and the Activate it must parse to."""
    role, duration = draw(ROLE_NAMES), draw(st.sampled_from(sorted(DURATION_TEXTS)))
    ticket, reason = draw(TICKETS), draw(REASONS)
    text = " ".join(p for p in (role, duration, ticket, reason) if p)
    minutes = timedelta(minutes=DURATION_TEXTS[duration])
    return text, Activate(role.strip('"'), minutes, ticket, reason)


WELL_FORMED = well_formed()
CARD_TEXT = "user-admin 5h CONTOSO:Security-012345 invalidate refresh tokens"


@settings(max_examples=200, deadline=None)
@given(st.one_of(SENTENCES, WELL_FORMED.map(lambda pair: pair[0])))
@example(CARD_TEXT)  # an Activate on every run, whatever the draw
def test_a_parsed_activation_is_valid_as_far_as_syntax_goes(text: str) -> None:
    cmd = _parse("activate " + text)
    event(type(cmd).__name__)
    if isinstance(cmd, Activate):
        assert timedelta(0) < cmd.duration <= MAX_DURATION
        assert cmd.role.strip() and cmd.justification.strip()
        assert cmd.ticket is None or PATTERN.fullmatch(cmd.ticket)
    if isinstance(cmd, OpenActivationForm | Extend) and cmd.duration is not None:
        assert timedelta(0) < cmd.duration <= MAX_DURATION


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(WELL_FORMED)
@example((CARD_TEXT, Activate("user-admin", timedelta(hours=5), "CONTOSO:Security-012345",
                              "invalidate refresh tokens")))  # fmt: skip
def test_a_well_formed_activation_parses_to_what_it_says(pair: tuple[str, Activate]) -> None:
    text, expected = pair

    assert _parse("activate " + text) == expected


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
