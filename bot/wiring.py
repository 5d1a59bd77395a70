"""The composition root: build the chat-free services from settings, with overrides.

Everything is built in dependency order and handed over at construction; nothing is set
on an object afterwards. pimbot.yml is read once, here (or passed in), and passed down.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from bot.clock import Clock, SystemClock
from bot.domain.requests import RequestState
from bot.domain.roles import RoleCatalog
from bot.metrics import Metrics, Reading
from bot.service.activation import PimService
from bot.service.approvals import ApprovalService
from bot.service.approvers import Approvers
from bot.service.board import BoardDisplay, BoardRefs, BoardService, MemoryBoardRefs
from bot.service.breakglass import BreakGlassService
from bot.service.deliveries import Deliveries, MemoryDeliveries
from bot.service.deps import AuditTrail, Deps
from bot.service.dispatch import Pimbot, UserMode
from bot.service.entra_held import EntraHeld
from bot.service.identity import IdentityResolver
from bot.service.intake import Intake
from bot.service.kept import Keeper
from bot.service.leases import Leases, holder_id
from bot.service.nudges import ApproverNudges
from bot.service.policies import PolicyCache
from bot.service.ports import (
    Actors,
    AppIdentity,
    Notifier,
    People,
    PimGraph,
    Store,
    Trigger,
)
from bot.service.queries import RoleQueries
from bot.service.readiness import ReadinessService
from bot.service.reconcile import Reconciler
from bot.service.recovery import (
    CarryOn,
    carry_on_request,
    recover_activating,
    settle_provisioning,
)
from bot.service.reminders import READ_AHEAD, ReminderService
from bot.service.sweep import SWEEP_SECONDS, ProcessLock, Sweeper, try_hold
from bot.settings import PolicyFile, Settings

if TYPE_CHECKING:
    import httpx

    from bot.signin.login import LoginService
    from bot.signin.wiring import UserModeParts
    from bot.store.drift import SqlDrift

log = logging.getLogger(__name__)


class ManualTrigger:
    """A trigger that never fires by itself: reminders go out through `run_due` sweeps."""

    def schedule(self, when: datetime) -> None:
        return None


class Background(Protocol):
    """Work the front end runs beside the services (the chat's outbox courier)."""

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class Services:
    """The composition result: what the front end, the CLI and the tests hold. `pimbot`
    is the front end's one entry; the rest is here for start-up, shutdown and tests."""

    settings: Settings
    config: PolicyFile
    clock: Clock
    graph: PimGraph
    store: Store
    deps: Deps
    pimbot: Pimbot
    service: PimService
    approvals: ApprovalService
    reminders: ReminderService
    trigger: Trigger
    sweeper: Sweeper
    user_mode: UserModeParts | None = None  # `graph.identity: user` only
    sign_ins: LoginService | None = None
    keeper: Keeper | None = None
    background: tuple[Background, ...] = ()
    glass: BreakGlassService | None = None
    metrics: Metrics = field(default_factory=Metrics)
    board: BoardService | None = None
    locks: dict[str, ProcessLock] = field(default_factory=dict)  # PROCESS_LOCKS, by name
    deliveries: Deliveries | None = None  # payload claims (Socket Mode, HTTP events)
    leases: Leases | None = None  # replicas: requests being activated, carried on if one dies
    intake: Intake | None = None  # acked commands kept until done, replayed if one dies
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self, *, sweep_seconds: float = SWEEP_SECONDS) -> None:
        """Start the scheduler, re-trigger unsent reminders, settle what a crash left
        activating, resume sign-ins in progress, and the background loops."""
        for each in self.background:  # first: what recovery says goes out through it
            await each.start()
        # Tried at once (not only each round), so `pimbot_lock_held` names a holder now.
        held = {name: await try_hold(lock) for name, lock in self.locks.items()}
        start = getattr(self.trigger, "start", None)
        if start is not None:
            await start(
                self.reminders.on_due,
                paused=not held.get("scheduler", True),
                ahead=self.reminders.read_ahead,
            )
        self.reminders.resume()
        try:
            # A leased request is a replica's (live) or the lease scan's (lapsed).
            skip = await asyncio.to_thread(self.leases.leased) if self.leases else set()
            await recover_activating(self.deps, self.reminders, skip=skip)
        except Exception:  # noqa: BLE001 - recovery must never stop the bot starting
            log.exception("recovering requests left activating failed; next start retries")
        if self.sign_ins is not None:
            resumed = await self.sign_ins.resume()
            if resumed:
                log.info("resumed %d sign-in(s) left waiting by the last run", resumed)
            self.pimbot.follow_sign_ins()
        if self.user_mode is None:  # user mode has no identity to read with at start
            self._tasks.append(asyncio.create_task(self._prime()))
        if self.board is not None:
            self.board.start()  # posted if it does not exist yet, else edited
        self._tasks.append(asyncio.create_task(self.sweeper.run_forever(sweep_seconds)))
        self._tasks.append(asyncio.create_task(self._follow_scheduler_lock()))
        if self.intake is not None:
            self._tasks.append(
                asyncio.create_task(self.intake.run_forever(self.pimbot.replay_acked))
            )
        if self.leases is not None:
            how = CarryOn(
                self.service.carry_on_requested, self.approvals.carry_out, self.service.carry_on
            )
            carry = functools.partial(carry_on_request, self.deps, self.reminders, how)
            self._tasks.append(asyncio.create_task(self.leases.run_forever(carry)))

    async def _prime(self) -> None:
        """Tenant-wide reads every activation needs, made once at start rather than by the
        first activation (issue 17): the PIM policies, the administrative units' names.
        Best effort: what fails here is read when first needed."""
        try:
            await self.deps.policies.prime()
            prime = getattr(self.graph, "prime", None)  # GraphPim's; test doubles may lack it
            if prime is not None:
                await prime()
        except Exception:  # noqa: BLE001 - a read ahead must never stop the bot starting
            log.warning("reading ahead at start failed; read when first needed", exc_info=True)

    async def _lead_scheduler(self) -> bool:
        lock = self.locks.get("scheduler")
        return lock is None or await try_hold(lock)

    async def _follow_scheduler_lock(self) -> None:
        """Run due reminder jobs here only while this replica holds the scheduler lock."""
        lead = getattr(self.trigger, "lead", None)
        while lead is not None:
            await asyncio.sleep(LOCK_SECONDS)
            lead(await self._lead_scheduler())

    async def sweep(self, *, reconcile: bool = False) -> None:
        await self.sweeper.sweep(reconcile=reconcile)

    async def aclose(self) -> None:
        await self.pimbot.aclose()
        if self.board is not None:
            await self.board.aclose()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.leases is not None:
            await self.leases.aclose()
        if self.intake is not None:
            await self.intake.aclose()
        shutdown = getattr(self.trigger, "shutdown", None)
        if shutdown is not None:
            await shutdown()
        for lock in self.locks.values():  # a successor need not wait for a round
            lock.release()
        for each in self.background:
            await each.aclose()
        if self.sign_ins is not None:
            await self.sign_ins.aclose()
        if self.user_mode is not None:
            await self.user_mode.aclose()
        if self.user_mode is None or self.graph is not self.user_mode.graph:
            await self.graph.aclose()


def build_services(
    settings: Settings,
    *,
    directory: People,
    notifier: Notifier,
    graph: PimGraph | None = None,
    store: Store | None = None,
    scheduler: Trigger | None = None,
    clock: Clock | None = None,
    config: PolicyFile | None = None,
    signin_transport: httpx.AsyncBaseTransport | None = None,
    background: tuple[Background, ...] = (),
    metrics: Metrics | None = None,
) -> Services:
    """Wire the services; anything passed in replaces the default adapter. In user mode
    (`graph.identity: user`) Graph calls act as each command's own signed-in user.
    `metrics`: where the services are counted (a new registry if not given)."""
    config = config or settings.policy()
    metrics = metrics or Metrics()
    clock = clock or SystemClock()
    store = store or _default_store(settings, clock)
    user_mode = (
        _user_mode(settings, store, clock, signin_transport, metrics)
        if config.graph.identity == "user"
        else None
    )
    actors: Actors = AppIdentity()
    if graph is None:
        graph = user_mode.graph if user_mode else _default_graph(settings, metrics, clock)
        actors = user_mode.actor if user_mode else actors
    catalog = RoleCatalog(config)
    identity = IdentityResolver(graph, store, directory, config, clock)
    policies = PolicyCache(graph, catalog, config, clock, entra_enforces=user_mode is not None)
    deps = Deps(
        graph=graph,
        store=store,
        notifier=notifier,
        audit=AuditTrail(store, notifier),
        identity=identity,
        catalog=catalog,
        policies=policies,
        queries=RoleQueries(graph, catalog, policies, clock, signed_in=user_mode is not None),
        config=config,
        clock=clock,
        actors=actors,
    )
    trigger = scheduler or _default_trigger(store)
    reminders = ReminderService(
        deps, trigger, late_by=metrics.late_by, tenant_wide=user_mode is None
    )
    locks = process_locks(store)
    watch_store(metrics, store, clock, locks)
    drift = _drift_store(store)
    readiness = ReadinessService(deps, drift) if drift else None
    board = _board(
        deps,
        store,
        notifier,
        app_mode=user_mode is None,
        redraw_every=settings.pim_board_redraw_seconds,
    )
    # Tenant-wide reads need the application's own identity; user mode keeps per-user ones.
    # The board is redrawn from reconciliation's read: one tenant-wide read per interval.
    also = board if board.shows_board else None
    reconciler = (
        Reconciler(deps, drift, reminders, also=also) if drift and user_mode is None else None
    )
    leases = _leases(settings, store, clock)
    intake = _intake(settings, store, clock, leases.holder if leases else holder_id())
    service = PimService(
        deps, reminders, entra_decides=user_mode is not None, readiness=readiness, leases=leases
    )
    sign_ins = keeper = entra = None
    if user_mode is not None:
        sign_ins = user_mode.sign_ins(identity, audit=store)
        keeper = Keeper(sign_ins, user_mode.kept, deps)
        entra = EntraHeld(user_mode.approvals, deps, reminders)
    approvals = ApprovalService(deps, service, entra=entra, keeper=keeper)
    glass = BreakGlassService(deps, reminders, user_mode=user_mode is not None)
    nudges = ApproverNudges(deps, approvals)
    pimbot = Pimbot(
        deps,
        service,
        approvals,
        UserMode(sign_ins, keeper) if sign_ins and keeper else None,
        health=sign_ins.check if sign_ins else graph.check_token,
        glass=glass,
        board=board,
        intake=intake,
    )
    return Services(
        settings,
        config,
        clock,
        graph,
        store,
        deps,
        pimbot,
        service,
        approvals,
        reminders,
        trigger,
        Sweeper(
            reminders,
            approvals,
            keeper,
            functools.partial(settle_provisioning, deps, reminders),
            glass.ender.run_due,
            nudges,
            readiness=readiness.follow if readiness else None,
            reconcile=reconciler.run if reconciler else None,
            clock=clock,
            reconcile_every=config.reconcile_every,
            board=None if reconciler else board.tick,
            lock=locks["sweep"],
        ),
        user_mode,
        sign_ins,
        keeper,
        background,
        glass,
        metrics,
        board,
        locks,
        _deliveries(store),
        leases,
        intake,
    )


def _deliveries(store: Store) -> Deliveries:
    """Shared claims on PostgreSQL (several replicas); in memory on SQLite, which serves
    one process only (bot/store/single.py): no write, no fsync, per Slack payload."""
    engine = getattr(store, "engine", None)
    if engine is None or engine.dialect.name == "sqlite":
        return MemoryDeliveries()
    from bot.store.deliveries import SqlDeliveries

    return SqlDeliveries(engine)


def _leases(settings: Settings, store: Store, clock: Clock) -> Leases | None:
    """Leases on PostgreSQL, where replicas can take over each other's work; SQLite serves
    one process (bot/store/single.py), whose crash the start-up recovery settles."""
    engine = getattr(store, "engine", None)
    if engine is None or engine.dialect.name != "postgresql":
        return None
    from bot.store.leases import SqlLeases

    return Leases(
        SqlLeases(engine),
        clock,
        holder_id(),
        lease=timedelta(seconds=settings.pim_lease_seconds),
        scan_every=settings.pim_lease_scan_seconds,
    )


def _intake(settings: Settings, store: Store, clock: Clock, holder: str) -> Intake | None:
    """Acked commands kept in the database (SQLite too: a crash of the one process leaves
    them to its restart); none for a store without one (test doubles)."""
    engine = getattr(store, "engine", None)
    if engine is None:
        return None
    from bot.store.intake import SqlIntake

    return Intake(
        SqlIntake(engine),
        clock,
        holder,
        lease=timedelta(seconds=settings.pim_lease_seconds),
        scan_every=settings.pim_lease_scan_seconds,
    )


def _board(
    deps: Deps, store: Store, notifier: Notifier, *, app_mode: bool, redraw_every: float
) -> BoardService:
    """`/pim who` and `/pim history`; the audit channel's board only in application mode
    (in user mode no one is signed in for the bot's own tenant-wide read)."""
    engine = getattr(store, "engine", None)
    refs: BoardRefs = MemoryBoardRefs()
    if engine is not None:
        from bot.store.board import SqlBoardRefs

        refs = SqlBoardRefs(engine)
    display = notifier if app_mode and isinstance(notifier, BoardDisplay) else None
    board = BoardService(deps, Approvers(deps), refs, display, redraw_every=redraw_every)
    deps.audit.listen(board.changed)
    return board


def _user_mode(
    settings: Settings,
    store: Store,
    clock: Clock,
    transport: httpx.AsyncBaseTransport | None,
    metrics: Metrics,
) -> UserModeParts:
    """The sign-in adapter; ConfigError names what is missing (PIM_TOKEN_KEY, the
    AZURE_* ids) before anything starts."""
    from bot.signin.wiring import build_user_mode

    engine = getattr(store, "engine", None)
    if engine is None:
        raise TypeError("user mode needs the SQL store: the users' tokens live in it")
    return build_user_mode(
        settings, engine=engine, clock=clock, transport=transport, metrics=metrics
    )


def _default_graph(settings: Settings, metrics: Metrics, clock: Clock) -> PimGraph:
    from bot.graph import build_graph

    return build_graph(settings, metrics=metrics, clock=clock)


# The periodic work one replica does at a time: the sweep, and running the reminder
# scheduler's due jobs (every replica stores jobs). See bot/store/locks.py.
PROCESS_LOCKS = ("sweep", "scheduler")
LOCK_SECONDS = 15.0  # how often a replica tries the scheduler lock (the sweep: each round)


def process_locks(store: Store) -> dict[str, ProcessLock]:
    from bot.store.locks import process_locks as locks_on

    return dict(locks_on(getattr(store, "engine", None), PROCESS_LOCKS))


def watch_store(
    metrics: Metrics, store: Store, clock: Clock, locks: dict[str, ProcessLock]
) -> None:
    """The gauges read from the database at each scrape: approvals waiting, the outbox's
    depth and oldest parcel's age (SQL store only), and the locks this process holds."""
    metrics.watch(
        Reading(
            "pimbot_approvals_waiting",
            "Requests waiting for an approver's decision.",
            lambda: len(store.list_requests(states=frozenset({RequestState.PENDING_APPROVAL}))),
        )
    )
    for name, lock in locks.items():
        metrics.watch(
            Reading(
                "pimbot_lock_held",
                "1 where this process holds the lock for the periodic work named.",
                functools.partial(_held, lock),
                (("lock", name),),
            )
        )
    engine = getattr(store, "engine", None)
    if engine is not None:
        _watch_outbox(metrics, engine, clock)


def _held(lock: ProcessLock) -> float:
    return 1.0 if lock.held else 0.0


def _watch_outbox(metrics: Metrics, engine: Any, clock: Clock) -> None:
    from bot.store.outbox import SqlOutbox

    outbox = SqlOutbox(engine, clock)
    metrics.watch(
        Reading(
            "pimbot_outbox_depth",
            "Slack messages in the outbox not yet delivered.",
            lambda: outbox.backlog()[0],
        )
    )
    metrics.watch(
        Reading(
            "pimbot_outbox_oldest_seconds",
            "Age of the oldest undelivered Slack message (0: none).",
            lambda: outbox.backlog()[1],
        )
    )


def _default_store(settings: Settings, clock: Clock) -> Store:
    from bot.store import SqlStore

    return SqlStore.from_url(settings.pim_database_url, clock=clock)


def _drift_store(store: Store) -> SqlDrift | None:
    """Readiness and outside activity live in the SQL store's database (none without it)."""
    engine = getattr(store, "engine", None)
    if engine is None:
        return None
    from bot.store.drift import SqlDrift

    return SqlDrift(engine)


def _default_trigger(store: Store) -> Trigger:
    engine = getattr(store, "engine", None)
    if engine is None:
        return ManualTrigger()
    from bot.store.scheduler import ReminderScheduler

    return ReminderScheduler(engine, early=READ_AHEAD)
