"""The bot's own clockwork: the periodic sweep.

The scheduler fires reminders on time; the sweep is the safety net (and what makes a
moved sandbox clock take effect). Reconciliation reads Graph, so it runs less often.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.service.approvals import ApprovalService
from bot.service.kept import Keeper
from bot.service.reminders import ReminderService

log = logging.getLogger(__name__)
SWEEP_SECONDS = 30.0
RECONCILE_EVERY = 10  # sweeps: every 5 minutes


class Sweeper:
    """Due reminders, stale approvals and kept work; Graph reconciliation every few rounds."""

    def __init__(
        self,
        reminders: ReminderService,
        approvals: ApprovalService,
        keeper: Keeper | None = None,
        provisioning: Callable[[], Awaitable[int]] | None = None,
        *,
        board: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._reminders, self._approvals, self._keeper = reminders, approvals, keeper
        self._provisioning = provisioning  # activations Entra accepted, not yet in effect
        self._board = board  # redrawn on the bot's clock: "expiring" and "ended" move on

    async def sweep(self, *, reconcile: bool = False) -> None:
        if self._provisioning is not None:
            await self._provisioning()
        await self._reminders.run_due()
        await self._approvals.expire_due()
        if self._keeper is not None:
            await self._keeper.expire_due()
        if reconcile:
            await self._reminders.reconcile()
            await self._approvals.reconcile_entra_held()
        if self._board is not None:
            await self._board()

    async def run_forever(self, seconds: float = SWEEP_SECONDS) -> None:
        count = 0
        while True:
            await asyncio.sleep(seconds)
            count += 1
            try:
                await self.sweep(reconcile=count % RECONCILE_EVERY == 0)
            except Exception:  # noqa: BLE001 - one bad round must not stop future sweeps
                log.exception("periodic sweep failed; retrying next round")
