"""Deliveries: one Slack payload handled once across replicas, however often it arrives.

Socket Mode sends each payload to one of the app's connections and sends it again
(possibly to another replica's connection) when no ack came in time. A replica claims a
payload's key before handling it; the claim settles once the ack went out. Another
delivery of a settled key is only acked; one of a key another replica claimed moments
ago is left unacked (Slack sends it again later); a claim older than its lease belongs
to a replica that died before acking, and is taken over.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from enum import Enum
from typing import Protocol

# Slack wants the ack within 3 s and redelivers after; a claim not settled a second
# after that is a dead replica's (a live one acks in milliseconds).
CLAIM_LEASE = timedelta(seconds=4)


class Claim(Enum):
    MINE = "mine"  # handle it (first delivery, or a dead replica's claim taken over)
    DONE = "done"  # handled already: ack it and do nothing more
    BUSY = "busy"  # another replica is handling it now: leave it unacked


class Deliveries(Protocol):
    """Claims on payload keys, shared by every replica (bot.store.deliveries)."""

    blocking: bool  # True: does I/O, so callers keep it off the event loop

    def claim(self, key: str, holder: str, now: datetime) -> Claim:
        """Claim `key` for `holder`, atomically across replicas."""
        ...

    def settle(self, key: str) -> None:
        """`key` was handled and acked: later deliveries are DONE."""
        ...


class MemoryDeliveries:
    """Claims in this process's memory: enough where only one process serves Slack
    (SQLite, bot/store/single.py), where a database round trip per payload is waste."""

    blocking = False  # no I/O: called on the event loop

    def __init__(self, *, keep: timedelta = timedelta(days=1)) -> None:
        self._keep = keep
        self._claims: dict[str, tuple[datetime, bool]] = {}  # key -> (claimed at, settled)
        self._lock = threading.Lock()

    def claim(self, key: str, holder: str, now: datetime) -> Claim:
        with self._lock:
            self._prune(now)
            found = self._claims.get(key)
            if found is None or (not found[1] and now - found[0] >= CLAIM_LEASE):
                self._claims[key] = (now, False)
                return Claim.MINE
            return Claim.DONE if found[1] else Claim.BUSY

    def settle(self, key: str) -> None:
        with self._lock:
            claimed = self._claims.get(key)
            if claimed is not None:
                self._claims[key] = (claimed[0], True)

    def _prune(self, now: datetime) -> None:
        if len(self._claims) % 500 == 0:
            old = [k for k, (at, _) in self._claims.items() if now - at > self._keep]
            for key in old:
                del self._claims[key]
