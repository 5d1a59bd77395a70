"""ISO 8601 date-times and durations as Graph writes and reads them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_DURATION = re.compile(
    r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?",
    re.IGNORECASE,
)
# Graph sends up to 7 fractional digits; Python parses at most 6.
_FRACTION = re.compile(r"(\.\d{6})\d+")


def format_dt(value: datetime) -> str:
    """Graph's spelling: UTC with a `Z`, fractional seconds only when present."""
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}"
    return text + "Z"


def parse_dt(text: str) -> datetime:
    """Parse an ISO 8601 date-time; naive values are taken as UTC (as Graph does)."""
    cleaned = _FRACTION.sub(r"\1", text.strip()).replace("z", "Z")
    value = datetime.fromisoformat(cleaned)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_duration(text: str) -> timedelta:
    """Parse `PT5H`, `P1D`, `PT1H30M`, `P1W`…; raise ValueError on anything else."""
    match = _DURATION.fullmatch(text.strip())
    if not match or text.strip().upper() in ("P", "PT"):
        raise ValueError(f"not an ISO 8601 duration: {text!r}")
    weeks, days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)


def format_duration(value: timedelta) -> str:
    """`PT5H`, `P1DT2H`, `PT30M`: the shortest ISO 8601 spelling of a duration."""
    total = int(value.total_seconds())
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    time = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    return "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "" if days else "T0S")
