"""A switch that makes the Web API answer as Slack does when an app goes too fast:
HTTP 429, `{"ok": false, "error": "ratelimited"}` and a `Retry-After` header in seconds
(https://api.slack.com/apis/rate-limits; slack_sdk's RateLimitErrorRetryHandler reads
that header). Off by default; set from the page or `POST /ui/rate_limit`."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from bot.simulators.workspace.state import ApiError

MAX_SECONDS = 3600.0


@dataclass(frozen=True)
class Rule:
    every: int  # every Nth Web API call answers 429 (1: all of them)
    until: float | None  # time.monotonic() deadline; None: until switched off
    retry_after: int  # seconds, the Retry-After header


class RateLimit:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rule: Rule | None = None
        self._calls = 0
        self.refused = 0  # how many calls got 429, for the page and tests

    def set(self, body: dict[str, Any]) -> None:
        """From `{"every": N, "seconds": S, "retry_after": R}`; every field optional."""
        every, retry_after = int(body.get("every", 1)), int(body.get("retry_after", 1))
        seconds = body.get("seconds")
        if every < 1 or not 0 <= retry_after <= 60:
            raise ApiError("invalid_arguments")
        if seconds is not None and not 0 < float(seconds) <= MAX_SECONDS:
            raise ApiError("invalid_arguments")
        until = None if seconds is None else time.monotonic() + float(seconds)
        with self._lock:
            self._rule, self._calls, self.refused = Rule(every, until, retry_after), 0, 0

    def clear(self) -> None:
        with self._lock:
            self._rule = None

    def retry_after(self) -> int | None:
        """Count one Web API call; the Retry-After to answer it with, or None to serve it."""
        with self._lock:
            rule = self._rule
            if rule is None:
                return None
            if rule.until is not None and time.monotonic() >= rule.until:
                self._rule = None
                return None
            self._calls += 1
            if self._calls % rule.every:
                return None
            self.refused += 1
            return rule.retry_after

    def describe(self) -> dict[str, Any]:
        with self._lock:
            rule = self._rule
            if rule is None:
                return {"on": False, "refused": self.refused}
            left = None if rule.until is None else max(0, rule.until - time.monotonic())
            return {
                "on": True,
                "every": rule.every,
                "retry_after": rule.retry_after,
                "seconds_left": None if left is None else math.ceil(left),
                "refused": self.refused,
            }
