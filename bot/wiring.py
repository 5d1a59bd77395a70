"""The composition root: build the Slack-free services from settings, with overrides."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from bot.clock import Clock, SystemClock
from bot.domain.roles import RoleCatalog
from bot.service.activation import PimService
from bot.service.approvals import ApprovalService
from bot.service.identity import IdentityResolver
from bot.service.policies import PolicyCache
from bot.service.ports import Notifier, PimGraph, SlackDirectory, Store, Trigger
from bot.service.recovery import recover_activating
from bot.service.reminders import ReminderService
from bot.settings import PolicyFile, Settings

if TYPE_CHECKING:
    from bot.signin.resume import KeptWork
    from bot.signin.wiring import SignIn
    from bot.store.deferred import Deferred

log = logging.getLogger(__name__)
T = TypeVar("T")

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
    signin: SignIn | None = None  # user mode only (`graph.identity: user`)
    kept: KeptWork | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def as_user(
        self, slack_user_id: str, item: Deferred | None, call: Callable[[], Awaitable[T]]
    ) -> T:
        """`call()`; in user mode, a missing or too-weak sign-in keeps `item` (if any),
        DMs a sign-in code and raises SignInPending instead."""
        if self.kept is None:
            return await call()
        return await self.kept.run(slack_user_id, item, call)

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
        if self.signin is not None:
            resumed = await self.signin.login.resume()
            if resumed:
                log.info("resumed %d sign-in(s) left waiting by the last run", resumed)
        self._tasks.append(asyncio.create_task(self._sweep_forever(sweep_seconds)))

    async def sweep(self, *, reconcile: bool = False) -> None:
        """Send due reminders, expire stale approvals and kept work, and optionally
        reconcile with Graph."""
        await self.reminders.run_due()
        await self.approvals.expire_due()
        if self.kept is not None:
            await self.kept.expire_due()
        if reconcile:
            await self.reminders.reconcile()
            await self.approvals.reconcile_entra_held()

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
        if self.signin is not None:
            await self.signin.aclose()
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
    """Wire the services; anything passed in replaces the default adapter. In user mode
    (`graph.identity: user`) the Graph port acts as each request's own signed-in user."""
    config = config or settings.policy()
    clock = clock or SystemClock()
    store = store or _default_store(settings, clock)
    signin = _build_signin(settings, store, clock) if config.graph.identity == "user" else None
    graph = graph or (_acting_graph(signin, settings) if signin else _default_graph(settings))
    catalog = RoleCatalog(config)
    identity = IdentityResolver(graph, store, directory, config, clock)
    service = PimService(
        graph=graph,
        store=store,
        identity=identity,
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
    services = Services(
        settings, config, clock, graph, store, catalog, service, approvals, reminders, trigger
    )
    if signin is not None:
        _wire_user_mode(services, signin, identity, notifier)
    return services


def _build_signin(settings: Settings, store: Store, clock: Clock) -> SignIn:
    """The sign-in services; ConfigError names what is missing (PIM_TOKEN_KEY, the
    AZURE_* ids) before anything starts."""
    from bot.signin.crypto import check_signin_config
    from bot.signin.wiring import build_signin

    check_signin_config(settings)
    engine = getattr(store, "engine", None)
    if engine is None:
        raise TypeError("user mode needs the SQL store: the users' tokens live in it")
    return build_signin(settings, engine=engine, resolver=None, audit=store, clock=clock)


def _acting_graph(signin: SignIn, settings: Settings) -> PimGraph:
    from bot.signin.acting import ActingGraph

    return ActingGraph(signin.graphs, settings)


def _wire_user_mode(
    services: Services, signin: SignIn, identity: IdentityResolver, notifier: Notifier
) -> None:
    from bot.service.entra_held import EntraHeld
    from bot.signin.acting import ActingGraph
    from bot.signin.resume import KeptWork

    signin.login.resolver = identity
    if isinstance(services.graph, ActingGraph):  # tests may pass a graph of their own
        services.service.actors = services.graph
    services.service.entra_approvals = True
    services.service.policies.entra_enforces = True
    services.approvals.entra = EntraHeld(signin.approvals, services.service)
    kept = KeptWork(signin, services.service, services.approvals, notifier)
    services.approvals.keeper = kept
    services.signin, services.kept = signin, kept


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
    from bot.store.scheduler import ReminderScheduler

    return ReminderScheduler(engine, on_due=on_due)
