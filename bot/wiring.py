"""The composition root: build the Slack-free services from settings, with overrides."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.approvals import ApprovalService
from bot.catalog import PolicyCache
from bot.clock import Clock, SystemClock
from bot.domain.roles import RoleCatalog
from bot.identity import IdentityResolver
from bot.ports import Notifier, PimGraph, SlackDirectory, Store, Trigger
from bot.recovery import recover_activating
from bot.reminding import ReminderService
from bot.service import PimService
from bot.settings import PolicyFile, Settings

log = logging.getLogger(__name__)

# The scheduler fires reminders on time; this sweep is the safety net (and what makes a
# moved sandbox clock take effect). Reconciliation reads Graph, so it runs less often.
SWEEP_SECONDS = 30.0
RECONCILE_EVERY = 10  # sweeps: every 5 minutes


class ManualTrigger:
    """A trigger that never fires by itself: reminders go out through `run_due` sweeps."""

    def schedule(self, reminder_id: str, when: datetime) -> None:
        return None

    def cancel(self, reminder_id: str) -> None:
        return None


@dataclass
class Services:
    """Everything the Slack layer and the CLI need, built once per process."""

    settings: Settings
    config: PolicyFile
    clock: Clock
    graph: PimGraph
    store: Store
    catalog: RoleCatalog
    service: PimService
    approvals: ApprovalService
    reminders: ReminderService
    trigger: Trigger
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self, *, sweep_seconds: float = SWEEP_SECONDS) -> None:
        """Start the scheduler, re-trigger unsent reminders, and the periodic sweep."""
        start = getattr(self.trigger, "start", None)
        if start is not None:
            await start()
        self.reminders.resume()
        try:
            await recover_activating(self.service, self.reminders)
        except Exception:  # noqa: BLE001 - recovery must never stop the bot starting
            log.exception("recovering requests left activating failed; next start retries")
        self._tasks.append(asyncio.create_task(self._sweep_forever(sweep_seconds)))

    async def sweep(self, *, reconcile: bool = False) -> None:
        """Send due reminders, expire stale approvals, and optionally reconcile with Graph."""
        await self.reminders.run_due()
        await self.approvals.expire_due()
        if reconcile:
            await self.reminders.reconcile()

    async def _sweep_forever(self, seconds: float) -> None:
        count = 0
        while True:
            await asyncio.sleep(seconds)
            count += 1
            try:
                await self.sweep(reconcile=count % RECONCILE_EVERY == 0)
            except Exception:  # noqa: BLE001 - one bad round must not stop future sweeps
                log.exception("periodic sweep failed; retrying next round")

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        shutdown = getattr(self.trigger, "shutdown", None)
        if shutdown is not None:
            await shutdown()
        await self.graph.aclose()


def build_services(
    settings: Settings,
    *,
    directory: SlackDirectory,
    notifier: Notifier,
    graph: PimGraph | None = None,
    store: Store | None = None,
    scheduler: Trigger | None = None,
    clock: Clock | None = None,
    config: PolicyFile | None = None,
) -> Services:
    """Wire the services; anything passed in replaces the default adapter."""
    config = config or settings.policy()
    clock = clock or SystemClock()
    graph = graph or _default_graph(settings)
    store = store or _default_store(settings, clock)
    catalog = RoleCatalog(config)
    service = PimService(
        graph=graph,
        store=store,
        identity=IdentityResolver(graph, store, directory, config, clock),
        catalog=catalog,
        policies=PolicyCache(graph, catalog, config, clock),
        notifier=notifier,
        config=config,
        clock=clock,
    )
    reminders = ReminderService(service, ManualTrigger())
    trigger = scheduler or _default_trigger(store, reminders.on_due)
    reminders.trigger = trigger
    service.hooks = reminders
    approvals = ApprovalService(service)
    return Services(
        settings, config, clock, graph, store, catalog, service, approvals, reminders, trigger
    )


def _default_graph(settings: Settings) -> PimGraph:
    from bot.graph import build_graph

    return build_graph(settings)


def _default_store(settings: Settings, clock: Clock) -> Store:
    from bot.store import SqlStore

    return SqlStore.from_url(settings.pim_database_url, clock=clock)


def _default_trigger(store: Store, on_due: Callable[[str], Awaitable[None]]) -> Trigger:
    engine = getattr(store, "engine", None)
    if engine is None:
        return ManualTrigger()
    from bot.scheduler import ReminderScheduler

    return ReminderScheduler(engine, on_due=on_due)
