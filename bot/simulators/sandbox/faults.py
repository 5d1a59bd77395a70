"""Switchable faults (latency, error bursts, dropped connections, lost responses) and the
log of every call the sandbox answered, so tests can count Graph calls."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

FaultKind = Literal["latency", "status", "drop", "lose_response"]


@dataclass(slots=True)
class FaultRule:
    """Affect the next `times` calls matching `method` / `path` (a prefix), then retire."""

    kind: FaultKind
    times: int
    method: str | None = None
    path: str | None = None
    status: int | None = None
    retry_after: float | None = None
    seconds: float = 0.0  # latency, or for lose_response the delay before the answer
    deliver: bool = False  # lose_response: send the answer after the delay instead of dropping

    def matches(self, method: str, path: str) -> bool:
        return (
            self.times > 0
            and (self.method is None or self.method.upper() == method.upper())
            and (self.path is None or path.startswith(self.path))
        )


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One answered (or dropped) call. `status` is 0 when no response reached the client."""

    method: str
    path: str
    query: str
    status: int
    request_body: Any
    response_body: Any
    request_id: str
    faults: tuple[str, ...] = field(default_factory=tuple)
    caller: str | None = None  # the app's service principal id or the signed-in user's id
    time: datetime | None = None  # on the sandbox clock
    client_request_id: str | None = None  # the caller's id for the call, echoed by Graph


class Faults:
    """The fault queue and call log. Methods return the rule so a test can inspect it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rules: list[FaultRule] = []
        self.calls: list[CallRecord] = []

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def latency(
        self, seconds: float, *, times: int = 1, method: str | None = None, path: str | None = None
    ) -> FaultRule:
        return self.add(FaultRule("latency", times, method, path, seconds=seconds))

    def fail(
        self,
        status: int,
        *,
        times: int = 1,
        retry_after: float | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> FaultRule:
        """Answer with `status` (429, 500, 502, 503, 504…) in Graph's error envelope."""
        return self.add(FaultRule("status", times, method, path, status, retry_after))

    def throttle(
        self,
        *,
        times: int = 1,
        retry_after: float = 1,
        method: str | None = None,
        path: str | None = None,
    ) -> FaultRule:
        return self.fail(429, times=times, retry_after=retry_after, method=method, path=path)

    def drop(
        self, *, times: int = 1, method: str | None = None, path: str | None = None
    ) -> FaultRule:
        """Close the connection without answering (the request is not processed)."""
        return self.add(FaultRule("drop", times, method, path))

    def lose_response(
        self,
        *,
        times: int = 1,
        delay: float = 0.0,
        deliver: bool = False,
        method: str | None = None,
        path: str | None = None,
    ) -> FaultRule:
        """Process the request, wait `delay` seconds, then drop the answer (or, with
        `deliver`, send it late so a client timeout loses it): the write happened but the
        client never learns it."""
        return self.add(
            FaultRule("lose_response", times, method, path, seconds=delay, deliver=deliver)
        )

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def take(self, method: str, path: str) -> list[FaultRule]:
        """Consume one use of every rule matching this call."""
        with self._lock:
            hit = [r for r in self.rules if r.matches(method, path)]
            for rule in hit:
                rule.times -= 1
            self.rules = [r for r in self.rules if r.times > 0]
            return hit

    def record(self, call: CallRecord) -> None:
        with self._lock:
            self.calls.append(call)

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """Calls seen so far, optionally by method and path prefix."""
        return len(self.find(method, path))

    def find(self, method: str | None = None, path: str | None = None) -> list[CallRecord]:
        with self._lock:
            return [
                c
                for c in self.calls
                if (method is None or c.method == method.upper())
                and (path is None or c.path.startswith(path))
            ]

    def clear_log(self) -> None:
        with self._lock:
            self.calls.clear()
