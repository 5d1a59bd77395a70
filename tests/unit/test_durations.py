from datetime import timedelta

import pytest

from bot.domain.durations import parse_duration, to_human, to_iso
from bot.errors import InputError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("5h", timedelta(hours=5)),
        ("5H", timedelta(hours=5)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1d", timedelta(days=1)),
        ("PT5H", timedelta(hours=5)),
        ("pt1h30m", timedelta(hours=1, minutes=30)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        (" 2h ", timedelta(hours=2)),
    ],
)
def test_parses_the_forms_users_type(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


EXAMPLES = "Try `30m`, `5h`, `1h30m`, `1d` or `PT5H`."
ZERO = "A duration must be longer than zero. " + EXAMPLES


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0h", ZERO),
        ("0m", ZERO),
        ("PT0H", ZERO),
        ("-5h", "A duration can't be negative: `-5h`. " + EXAMPLES),
        ("99d", "`99d` is too long: the most any role allows is 30 days."),
        ("31d", "`31d` is too long: the most any role allows is 30 days."),
        *[
            (text, f"`{text}` is not a duration. {EXAMPLES}")
            for text in ["x", "", "P", "PT", "5", "h", "5x", "1h 30m"]
        ],
    ],
)
def test_refuses_zero_negative_absurd_and_garbage_with_an_example(text: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        parse_duration(text)
    assert err.value.user_message == message


def test_thirty_days_is_the_ceiling() -> None:
    assert parse_duration("30d") == timedelta(days=30)


@pytest.mark.parametrize(
    ("value", "iso", "human"),
    [
        (timedelta(hours=5), "PT5H", "5 hours"),
        (timedelta(hours=1, minutes=30), "PT1H30M", "1 hour 30 minutes"),
        (timedelta(days=1), "P1D", "1 day"),
        (timedelta(minutes=1), "PT1M", "1 minute"),
    ],
)
def test_formats_iso_and_human(value: timedelta, iso: str, human: str) -> None:
    assert to_iso(value) == iso
    assert to_human(value) == human
    assert parse_duration(iso) == value
