"""When and how long to retry a Graph call: the whole policy, declared in one place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

# 429 throttling, and the 5xx statuses Graph documents as transient. 500/502 are included
# because Graph's front door answers them on brief back-end hiccups; a POST that meets
# one is only resent after checking it was not applied (see GraphClient.post).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

# The request never left this process, so even a non-idempotent POST may be resent as is.
UNSENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,  # the proxy refused the tunnel: nothing reached Graph
)
# The request may have reached Graph and been applied before the failure.
AMBIGUOUS_ERRORS: tuple[type[Exception], ...] = (
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded, jittered exponential backoff that defers to Graph's `Retry-After`.

    A call gives up after `max_attempts` tries or once waiting again would pass
    `max_total` seconds since the first try, whichever comes first.
    """

    max_attempts: int = 5
    max_total: float = 30.0
    base_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.5  # each backoff is shortened by up to this fraction
    max_retry_after: float = 20.0  # a longer Retry-After than this is not worth waiting for

    @classmethod
    def fast(cls, *, max_attempts: int = 5, max_total: float = 5.0) -> RetryPolicy:
        """Millisecond waits for tests that run against real sockets."""
        return cls(
            max_attempts=max_attempts,
            max_total=max_total,
            base_delay=0.001,
            max_delay=0.01,
            max_retry_after=max_total,
        )

    def delay(self, attempt: int, retry_after: float | None, rand: Callable[[], float]) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        if retry_after is not None:
            return retry_after  # Graph said exactly how long; jitter would only add risk
        backoff = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return backoff * (1 - self.jitter * rand())

    def allows(self, attempt: int, elapsed: float, delay: float) -> bool:
        """May another attempt follow attempt `attempt` after waiting `delay`?"""
        return (
            attempt < self.max_attempts
            and delay <= self.max_retry_after
            and elapsed + delay <= self.max_total
        )


def parse_retry_after(value: str | None) -> float | None:
    """`Retry-After` in seconds (Graph sends delta-seconds); None if absent or unreadable."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(seconds, 0.0)
