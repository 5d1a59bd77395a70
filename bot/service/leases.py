"""Leases on requests being activated: work a dead replica acked but had not finished is
carried on by a survivor, once.

The replica that moves a request to `activating` leases it (`hold`) and renews the lease
every `scan_every` while it works. Every replica scans as often for requests whose lease
lapsed (their replica died, or stalled longer than the lease), takes each over with one
conditional UPDATE (one replica wins) and carries it on from what Graph holds
(bot/service/recovery.py's `recover_one`): the activation settled if Graph has it, asked
again otherwise, where Graph refuses a duplicate. So a takeover never makes a second
activation.

Requests moved to `activating` without a lease (break-glass, a request moved in Entra's
approval flow, or a replica that died between the two statements) are left to the
start-up recovery, as before.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Protocol

from bot.clock import Clock

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=30)  # PIM_LEASE_SECONDS: a live replica renews well before
SCAN_SECONDS = 10.0  # PIM_LEASE_SCAN_SECONDS: a dead one's work resumes within both
CarryOn = Callable[[str], Awaitable[None]]
# What asking again answers when Graph refused it as a duplicate: the dead replica's own
# request reached Graph after all, and the request is settled from Graph instead.
DUPLICATE = -1


def holder_id() -> str:
    """This process among the replicas: host, pid and a random part (pids repeat)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class LeaseStore(Protocol):
    """The lease columns of requests, shared by every replica (bot.store.leases)."""

    def hold(self, request_id: str, holder: str, until: datetime) -> None: ...

    def renew(self, request_ids: Collection[str], holder: str, until: datetime) -> None: ...

    def release(self, request_id: str, holder: str) -> None: ...

    def lapsed(self, now: datetime) -> list[str]: ...

    def leased(self) -> set[str]:
        """Requests under a lease, live or lapsed."""
        ...

    def take(self, request_id: str, holder: str, now: datetime, until: datetime) -> bool:
        """True for the one replica whose UPDATE found the lease still lapsed."""
        ...


class Leases:
    """This replica's leases: held while it activates, renewed, and others' taken over."""

    def __init__(
        self,
        store: LeaseStore,
        clock: Clock,
        holder: str,
        *,
        lease: timedelta = LEASE,
        scan_every: float = SCAN_SECONDS,
    ) -> None:
        self._store, self._clock, self.holder = store, clock, holder
        self.lease, self.scan_every = lease, scan_every
        self._held: dict[str, int] = {}  # request id -> holds on it (they nest)
        self._carrying: set[asyncio.Task[None]] = set()

    @contextmanager
    def hold(self, request_id: str) -> Iterator[None]:
        """Lease `request_id` (just approved, or moved to `activating`, by this replica)
        while the block runs, renewed by `round`; released when the outermost block ends
        (the request settled, or left for the sweep or a sign-in). A failure to write it
        only costs the takeover."""
        self._held[request_id] = self._held.get(request_id, 0) + 1
        try:
            self._store.hold(request_id, self.holder, self._clock.now() + self.lease)
        except Exception:  # noqa: BLE001 - the activation goes on; start-up recovery remains
            log.warning("request %s not leased; only a restart recovers it", request_id)
        try:
            yield
        finally:
            self._held[request_id] -= 1
            if not self._held[request_id]:
                del self._held[request_id]
                self._release(request_id)

    def _release(self, request_id: str) -> None:
        try:
            self._store.release(request_id, self.holder)
        except Exception:  # noqa: BLE001 - it lapses instead: a survivor finds it settled
            log.warning("lease on request %s not released", request_id)

    def leased(self) -> set[str]:
        """Requests under a lease, live (a replica is on them) or lapsed (the lease scan
        carries them on): not this start-up's to recover, which would race the scan."""
        return self._store.leased()

    async def aclose(self) -> None:
        """Stop carrying requests on (shutdown): their leases lapse for another replica."""
        for task in list(self._carrying):
            task.cancel()
        await asyncio.gather(*self._carrying, return_exceptions=True)

    async def run_forever(self, carry_on: CarryOn) -> None:
        while True:
            await asyncio.sleep(self.scan_every)
            try:
                await self.round(carry_on)
            except Exception:  # noqa: BLE001 - the database away: the next round retries
                log.exception("lease round failed; next in %s s", self.scan_every)

    async def round(self, carry_on: CarryOn) -> list[str]:
        """Renew this replica's leases, take over lapsed ones and carry each on (in its
        own task, so renewing never waits for Graph). Returns the ids taken over."""
        now = self._clock.now()
        until = now + self.lease
        await asyncio.to_thread(self._store.renew, set(self._held), self.holder, until)
        taken = []
        for request_id in await asyncio.to_thread(self._store.lapsed, now):
            if await asyncio.to_thread(self._store.take, request_id, self.holder, now, until):
                log.warning("request %s: its replica's lease lapsed; carrying it on", request_id)
                taken.append(request_id)
                task = asyncio.create_task(self._carry(carry_on, request_id))
                self._carrying.add(task)
                task.add_done_callback(self._carrying.discard)
        return taken

    async def settled(self) -> None:
        """Until the requests taken over so far are carried on (tests, shutdown)."""
        while self._carrying:
            await asyncio.gather(*self._carrying, return_exceptions=True)

    async def _carry(self, carry_on: CarryOn, request_id: str) -> None:
        # Renewed while it is carried on, never released: left unsettled (Graph could not
        # be read, or Entra is still applying it), its lease lapses and a round retries.
        self._held[request_id] = self._held.get(request_id, 0) + 1
        try:
            await carry_on(request_id)
        except Exception:  # noqa: BLE001 - its lease lapses again: another round retries
            log.exception("carrying on %s failed; retried once its lease lapses", request_id)
        finally:
            self._held[request_id] -= 1
            if not self._held[request_id]:
                del self._held[request_id]
