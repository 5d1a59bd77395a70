"""The bot's own clockwork: the periodic sweep.

The scheduler fires reminders on time; the sweep is the safety net (and what makes a
moved sandbox clock take effect). Reconciliation reads Graph, so it runs less often:
every `reconcile_every` of the bot's clock (a moved clock triggers it as time would).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol

from bot.clock import Clock, SystemClock
from bot.logs import bind_request_id, request_id_for
from bot.service.approvals import ApprovalService
from bot.service.kept import Keeper
from bot.service.nudges import ApproverNudges
from bot.service.reminders import ReminderService

log = logging.getLogger(__name__)
SWEEP_SECONDS = 30.0
Step = Callable[[], Awaitable[int]]


class ProcessLock(Protocol):
    """Held by one replica at a time (bot/store/locks.py); the others try again later."""

    @property
    def held(self) -> bool: ...

    def try_hold(self) -> bool:
        """True while this process holds it; never waits for another holder."""
        ...

    def release(self) -> None: ...


async def try_hold(lock: ProcessLock) -> bool:
    """The lock's answer off the event loop (a database round trip); False if it failed."""
    try:
        return await asyncio.to_thread(lock.try_hold)
    except Exception:  # noqa: BLE001 - the database away: not the holder this round
        log.exception("could not check the %r lock; not holding it this round", lock)
        return False


class Sweeper:
    """Due reminders, stale approvals and kept work; activations followed to "in effect";
    Graph reconciliation once per `reconcile_every`."""

    def __init__(
        self,
        reminders: ReminderService,
        approvals: ApprovalService,
        keeper: Keeper | None = None,
        provisioning: Step | None = None,
        break_glass: Step | None = None,
        nudges: ApproverNudges | None = None,
        *,
        board: Callable[[], Awaitable[None]] | None = None,
        readiness: Step | None = None,
        reconcile: Step | None = None,
        clock: Clock | None = None,
        reconcile_every: timedelta = timedelta(minutes=5),
        lock: ProcessLock | None = None,
    ) -> None:
        # Among replicas, the one holding `lock` sweeps; the others try it each round.
        self._lock = lock
        self._reminders, self._approvals, self._keeper = reminders, approvals, keeper
        self._nudges = nudges  # approvers re-pinged about undecided requests
        self._provisioning = provisioning  # activations Entra accepted, not yet in effect
        self._break_glass = break_glass  # not ratified in time, or revoked: ended here
        self._readiness = readiness  # ... and on to the directory's role assignment
        # The tenant-wide reconciliation; without it, one read per user with a live one.
        self._reconcile: Step = reconcile or reminders.reconcile
        self._clock = clock or SystemClock()
        self._every = reconcile_every
        # The first round is one interval after start: a restart does not read at once.
        self._reconciled: datetime = self._clock.now()
        self._board = board  # redrawn on the bot's clock: "expiring" and "ended" move on

    async def sweep(self, *, reconcile: bool = False) -> None:
        if self._provisioning is not None:
            await self._provisioning()
        if self._readiness is not None:
            await self._readiness()
        now = self._clock.now()
        if reconcile or now - self._reconciled >= self._every:
            # Before reminders: what ended outside pimbot is not reminded of.
            self._reconciled = now
            await self._reconcile()
            await self._approvals.reconcile_entra_held()
        await self._reminders.run_due()
        if self._break_glass is not None:
            await self._break_glass()
        await self._approvals.expire_due()
        await self._approvals.withdraw_orphaned_extensions()
        if self._nudges is not None:  # after expiry: an expired request pings nobody
            await self._nudges.run_due()
        if self._keeper is not None:
            await self._keeper.expire_due()
        if self._board is not None:
            await self._board()

    async def run_forever(self, seconds: float = SWEEP_SECONDS) -> None:
        while True:
            await asyncio.sleep(seconds)
            if self._lock is not None and not await try_hold(self._lock):
                continue
            bind_request_id(request_id_for(None))  # one id for the round's lines and calls
            try:
                await self.sweep()
            except Exception:  # noqa: BLE001 - one bad round must not stop future sweeps
                log.exception("periodic sweep failed; retrying next round")
