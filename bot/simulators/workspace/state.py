"""The workspace's shared bookkeeping: one lock, one version counter and one clock.

Every mutation bumps the version so the page's long poll (`/ui/state?since=`) wakes up.
The lock is a threading lock, not an asyncio one, because the CLI may fast-forward or
read state from another thread; critical sections never await, so it is never held
across a suspension point."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class Changes:
    """The lock and the version counter."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.version = 0
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    @contextmanager
    def mutate(self) -> Iterator[None]:
        with self.lock:
            yield
            self.version += 1
            waiters, self._waiters = self._waiters, []
        for loop, event in waiters:  # a mutation may come from another thread
            if not loop.is_closed():
                loop.call_soon_threadsafe(event.set)

    async def wait(self, since: int, within: float) -> int:
        """Return the version once it differs from `since`, or after `within` seconds."""
        event = asyncio.Event()
        with self.lock:
            if self.version != since:
                return self.version
            self._waiters.append((asyncio.get_running_loop(), event))
        try:
            await asyncio.wait_for(event.wait(), within)
        except TimeoutError:
            with self.lock:
                self._waiters = [w for w in self._waiters if w[1] is not event]
        return self.version


class WorkspaceClock:
    """Wall time plus the fast-forwarded offset, so message timestamps follow the sandbox
    clock the bot reasons with ("ends in 15 min" sits next to a matching time).
    Request signatures use the real time instead: Bolt checks them against its own."""

    def __init__(self) -> None:
        self.offset = 0.0
        self._last = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.time() + self.offset

    def next_ts(self) -> str:
        """A Slack message `ts`: seconds with microseconds, unique and increasing."""
        with self._lock:
            self._last = max(self.now(), self._last + 0.000001)
            return f"{self._last:.6f}"


class ApiError(Exception):
    """A Slack Web API error code (`{"ok": false, "error": code}`)."""

    def __init__(self, code: str, messages: list[str] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.messages = messages or []  # Slack's response_metadata.messages

    def body(self) -> dict[str, object]:
        body: dict[str, object] = {"ok": False, "error": self.code}
        if self.messages:
            body["response_metadata"] = {"messages": self.messages}
        return body
