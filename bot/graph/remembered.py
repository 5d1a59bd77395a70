"""Graph reads kept for a bounded lifetime (issue 17: fewer Graph calls per activation).

What is kept, and why it is safe: README "Eligibility cache". A kept read is never older
than its lifetime on the injected clock; callers asking for a key while it is being read
share that one read; a lifetime of zero keeps and shares nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from bot.clock import Clock

T = TypeVar("T")


class Remembered(Generic[T]):
    """Values read by key, each kept until `lifetime` has passed since it was asked for."""

    def __init__(self, clock: Clock, lifetime: timedelta) -> None:
        self._clock, self._lifetime = clock, lifetime
        self._kept: dict[str, tuple[datetime, T]] = {}
        self._reading: dict[str, asyncio.Future[T]] = {}

    async def get(self, key: str, read: Callable[[], Awaitable[T]]) -> T:
        """The kept value, the read already under way, or a fresh `read()` (kept from the
        moment it was asked for, so a slow read does not stretch the bound)."""
        if self._lifetime <= timedelta(0):
            return await read()
        asked = self._clock.now()
        kept = self._kept.get(key)
        if kept is not None and asked - kept[0] < self._lifetime:
            return kept[1]
        reading = self._reading.get(key) or self._start(key, read, asked)
        # Shielded: one caller giving up (a cancelled request) does not cancel the others'.
        return await asyncio.shield(reading)

    def forget(self, key: str | None = None) -> None:
        """Drop one key, or everything; a read under way is then not kept either (it may
        predate what made us forget)."""
        if key is None:
            self._kept.clear()
            self._reading.clear()
        else:
            self._kept.pop(key, None)
            self._reading.pop(key, None)

    def _start(
        self, key: str, read: Callable[[], Awaitable[T]], asked: datetime
    ) -> asyncio.Future[T]:
        reading = asyncio.ensure_future(read())
        self._reading[key] = reading

        def done(task: asyncio.Future[T]) -> None:
            if self._reading.get(key) is not task:
                return  # forgotten meanwhile
            del self._reading[key]
            if not task.cancelled() and task.exception() is None:
                self._kept[key] = (asked, task.result())

        reading.add_done_callback(done)
        return reading
