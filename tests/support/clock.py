"""A clock tests move by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 29, 9, 0, tzinfo=UTC)

    @classmethod
    def at_wall_time(cls) -> FakeClock:
        """A clock that starts now (whole seconds), for code that also reads real time."""
        return cls(datetime.now(UTC).replace(microsecond=0))

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | float) -> None:
        self._now += delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
