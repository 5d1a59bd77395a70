"""`/readyz`'s answer, cached briefly and single-flight, so probes never hammer Graph or Slack.

Every replica is probed by the kubelet (and often by a load balancer and a person with
curl too); each check reads Graph, the database and Slack's `auth.test`. One answer is
kept for `ttl` seconds, and probes arriving while a check runs wait for that check
instead of starting their own. A failure is therefore reported at most `ttl` seconds
plus one check after it began.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Ready:
    """One check's answer: ready or not, and the body saying why."""

    ok: bool
    body: dict[str, Any]


class ReadyCache:
    """Runs `check` at most once per `ttl` seconds, however many callers ask at once."""

    def __init__(
        self,
        check: Callable[[], Awaitable[Ready]],
        *,
        ttl: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._check, self._ttl, self._monotonic = check, ttl, monotonic
        self._answer: Ready | None = None
        self._checked_at = 0.0
        self._running: asyncio.Future[Ready] | None = None

    async def answer(self) -> Ready:
        """The cached answer while fresh; else the running check's, or a new check's."""
        if self._answer is not None and self._monotonic() - self._checked_at < self._ttl:
            return self._answer
        if self._running is None:
            self._running = asyncio.ensure_future(self._run(started=self._monotonic()))
        # shield: one probe's client hanging up must not cancel the check the others await.
        return await asyncio.shield(self._running)

    async def _run(self, *, started: float) -> Ready:
        try:
            answer = await self._check()
        finally:
            self._running = None
        # Freshness counts from when the check began: what it saw is that old at most.
        self._answer, self._checked_at = answer, started
        return answer
