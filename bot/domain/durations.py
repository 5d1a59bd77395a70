"""Durations as users type them (`30m`, `5h`, `1h30m`, `1d`, `PT5H`) <-> timedelta."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.errors import InputError

MAX_DURATION = timedelta(days=30)
EXAMPLE = "try `30m`, `5h`, `1h30m`, `1d` or `PT5H`"

_SHORT = re.compile(r"(?:(\d{1,6})d)?(?:(\d{1,6})h)?(?:(\d{1,6})m)?", re.IGNORECASE)
_ISO = re.compile(
    r"P(?:(\d{1,6})D)?(?:T(?=\d)(?:(\d{1,6})H)?(?:(\d{1,6})M)?(?:(\d{1,6})S)?)?",
    re.IGNORECASE,
)


def parse_duration(text: str) -> timedelta:
    """Parse a duration; refuse zero, negative, over 30 days and garbage with an example."""
    raw = text.strip()
    if raw.startswith("-"):
        raise InputError(f"A duration can't be negative: `{_show(raw)}`. {_example()}")
    value = _parse_iso(raw) if raw[:1].upper() == "P" else _parse_short(raw)
    if value is None:
        raise InputError(f"`{_show(raw)}` is not a duration. {_example()}")
    if value <= timedelta(0):
        raise InputError(f"A duration must be longer than zero. {_example()}")
    if value > MAX_DURATION:
        raise InputError(f"`{_show(raw)}` is too long: the most any role allows is 30 days.")
    return value


def is_duration(text: str) -> bool:
    """True if `text` parses as a valid duration."""
    try:
        parse_duration(text)
    except InputError:
        return False
    return True


def _parse_short(raw: str) -> timedelta | None:
    match = _SHORT.fullmatch(raw)
    if not raw or match is None or not any(match.groups()):
        return None
    days, hours, minutes = (int(g) if g else 0 for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes)


def _parse_iso(raw: str) -> timedelta | None:
    match = _ISO.fullmatch(raw)
    if match is None or not any(match.groups()):
        return None
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def to_iso(value: timedelta) -> str:
    """ISO 8601 as Graph wants it: `PT5H`, `PT1H30M`, `P1D`."""
    total = int(value.total_seconds())
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    time = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    out = "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")
    return out if out != "P" else "PT0S"


def to_human(value: timedelta) -> str:
    """Plain English: `5 hours`, `1 hour 30 minutes`, `1 day`."""
    total = int(value.total_seconds())
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [
        f"{n} {unit}{'' if n == 1 else 's'}"
        for n, unit in ((days, "day"), (hours, "hour"), (minutes, "minute"))
        if n
    ]
    return " ".join(parts) or "less than a minute"


def _show(raw: str) -> str:
    return raw if len(raw) <= 20 else raw[:20] + "…"


def _example() -> str:
    return EXAMPLE[0].upper() + EXAMPLE[1:] + "."
