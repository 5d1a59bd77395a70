"""APScheduler adapter: wakes the reminder service at the moments reminders fall due,
across restarts.

What to send and when is decided elsewhere (`bot.domain.reminders` plans, the service
sends); this module only persists "call back at that moment". One job per distinct
moment, not per reminder: the due handler sends everything due (the store says what),
so a thousand reminders falling due together are one job. APScheduler 3 runs its
`_process_jobs` on the event loop and removes each one-off job it starts from the job
store, a DELETE and a commit each (apscheduler/schedulers/base.py, `_process_jobs` ->
`remove_job`; jobstores/sqlalchemy.py): a job per reminder held the loop the courier
sends on for a good part of a second in a burst of 1,000 (bench/scale.py). Jobs live in
a SQLAlchemy job store on the bot's database, so they survive restarts; one missed while
the bot was down runs on start (no misfire grace limit).

The store, not the job table, is the source of truth. "Sent once" is not APScheduler's
promise: a job can run twice (two processes on one job store), or be lost (APScheduler
deletes a one-off job when it starts running it, so a crash mid-run forgets it). Hence:
the due handler claims due reminders in the store (`SqlStore.claim_due_reminders`) before
sending, and on start the service wakes at every unsent reminder's moment again. A
cancelled reminder leaves its moment's job: that wake finds nothing due and does nothing.

Read ahead: with `early`, a job runs that long before its moment and calls `ahead(moment)`
(the service reads Graph for what falls due then), waits for the moment, then calls
`on_due(moment)`. A shutdown meanwhile cancels the wait; the reminders stay unsent in the
store, and the next start wakes for them.

Replicas: APScheduler 3 says "job stores must never be shared between schedulers"
(https://apscheduler.readthedocs.io/en/3.x/userguide.html): a scheduler is not told of
jobs another one adds, and two would run the same job. So every replica stores its jobs
in the one table, but only the holder of the "scheduler" lock runs them (`lead`); the
others are started paused, and the holder reads the table again at each lock round.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_PAUSED
from sqlalchemy.engine import URL, Engine

from bot.domain.reminders import Reminder, fire_time
from bot.store.engine import make_engine

log = logging.getLogger(__name__)

# Told the moment it was woken for (None: a job of the per-reminder scheme before it).
OnDue = Callable[[datetime | None], Awaitable[None]]
Ahead = Callable[[datetime], Awaitable[None]]
JOB_PREFIX = "wake:"


@dataclass(frozen=True)
class _Hooks:
    on_due: OnDue
    ahead: Ahead | None = None


# Live callbacks by scheduler name. A stored job holds only the text reference
# "bot.store.scheduler:wake" and plain-string arguments, which unpickle in any later
# process; the callbacks (bound to that process's services) are found here when it runs.
_CALLBACKS: dict[str, _Hooks] = {}
# Jobs running now, by scheduler name, so shutdown can let them finish.
_RUNNING: dict[str, set[asyncio.Task[None]]] = {}
# Jobs woken early, reading ahead or waiting for their moment (nothing sent yet).
_WAITING: dict[str, set[asyncio.Task[None]]] = {}


async def wake(scheduler_name: str, moment: str) -> None:
    """The job function every wake job points at (module level, so picklable)."""
    await _call(scheduler_name, datetime.fromisoformat(moment))


async def fire(scheduler_name: str, reminder_id: str) -> None:
    """What a job of the per-reminder scheme (one job per reminder id) still in a job
    table points at: it wakes the service like any other job, at its moment."""
    await _call(scheduler_name, None)


async def _call(scheduler_name: str, moment: datetime | None) -> None:
    hooks = _CALLBACKS.get(scheduler_name)
    if hooks is None:
        # The store still holds the reminders unsent; the next start wakes for them.
        log.warning("reminders due at %s but scheduler %r is not running", moment, scheduler_name)
        return
    if moment is not None and hooks.ahead is not None:
        if not await _waiting(scheduler_name, hooks.ahead, moment):
            return
    running = _RUNNING.setdefault(scheduler_name, set())
    task = asyncio.current_task()
    if task is None:  # not run by APScheduler's asyncio executor (a direct call)
        await hooks.on_due(moment)
        return
    running.add(task)
    try:
        await hooks.on_due(moment)
    finally:
        running.discard(task)


async def _waiting(scheduler_name: str, ahead: Ahead, moment: datetime) -> bool:
    waiting = _WAITING.setdefault(scheduler_name, set())
    task = asyncio.current_task()
    if task is not None:
        waiting.add(task)
    try:
        return await _before(ahead, moment)
    finally:
        if task is not None:
            waiting.discard(task)


async def _before(ahead: Ahead, moment: datetime) -> bool:
    """Woken early: read ahead, then wait for the moment; False if cut off meanwhile.
    Not among the running jobs shutdown waits for: nothing was sent yet. A shutdown
    cancels it (APScheduler's AsyncIOExecutor.shutdown cancels the job tasks still
    pending, apscheduler/executors/asyncio.py), which would otherwise be logged as the
    job's error (run_coroutine_job catches BaseException, executors/base.py)."""
    if moment <= datetime.now(UTC):
        return True
    try:
        try:
            await ahead(moment)
        except Exception:  # noqa: BLE001 - an optimisation: the run reads what it needs
            log.warning("reading ahead for %s failed; read when due", moment, exc_info=True)
        # Until the wall clock says so: the loop's timers run on the monotonic clock and
        # may fire a hair early (asyncio's `_clock_resolution`), and a service clock
        # still short of the moment would wake again (and read ahead again).
        while (left := (moment - datetime.now(UTC)).total_seconds()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(left)
    except asyncio.CancelledError:
        return False
    return True


class _BorrowedEngineJobStore(SQLAlchemyJobStore):  # type: ignore[misc]  # untyped base
    """APScheduler disposes the job store's engine on shutdown; ours may be shared with
    the store (and an in-memory SQLite database dies with its connection)."""

    def shutdown(self) -> None:
        pass


class ReminderScheduler:
    """Wakes the reminder service at moments; idempotent by moment."""

    def __init__(
        self,
        url_or_engine: str | URL | Engine,
        *,
        name: str = "pimbot",
        tablename: str = "apscheduler_jobs",
        early: timedelta = timedelta(0),
    ) -> None:
        """`early`: how long before its moment a job runs, to read ahead (`start`)."""
        self._early = early
        self._owns_engine = not isinstance(url_or_engine, Engine)
        engine = url_or_engine if isinstance(url_or_engine, Engine) else make_engine(url_or_engine)
        self._engine = engine
        self.name = name
        self._hooks: _Hooks | None = None
        self._scheduler = AsyncIOScheduler(
            jobstores={"default": _BorrowedEngineJobStore(engine=engine, tablename=tablename)},
            job_defaults={
                # None: run however late (a reminder due while the bot was down still
                # matters); coalesce: several missed runs of one job run once.
                "misfire_grace_time": None,
                "coalesce": True,
            },
            timezone=UTC,
        )

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    async def start(
        self, on_due: OnDue, *, paused: bool = False, ahead: Ahead | None = None
    ) -> None:
        """Start on the running event loop, calling `on_due(moment)` for each job that
        falls due (`ahead(moment)` first, `early` before it); jobs that fell due while
        the bot was down run now. `paused`: jobs are stored (for the replica that runs
        them) but none runs here until `lead(True)`."""
        self._hooks = _Hooks(on_due, ahead)
        _CALLBACKS[self.name] = self._hooks
        self._scheduler.start(paused=paused)

    def lead(self, held: bool) -> None:
        """Among replicas, only the holder of the "scheduler" lock runs due jobs. It also
        looks at the job table again: APScheduler wakes for the jobs it added itself, not
        for those another replica added (the sweep's due reminders stay the safety net)."""
        if not self._scheduler.running:
            return
        if not held:
            if self._scheduler.state != STATE_PAUSED:
                self._scheduler.pause()
            return
        if self._scheduler.state == STATE_PAUSED:
            self._scheduler.resume()
        self._scheduler.wakeup()

    async def shutdown(self, *, grace: float = 5.0) -> None:
        """Stop triggering, letting reminders being sent finish (up to `grace` seconds);
        scheduled jobs stay in the database for the next start."""
        if self._scheduler.running:
            self._scheduler.pause()
            running = _RUNNING.get(self.name, set())
            if running:
                await asyncio.wait(set(running), timeout=grace)
            self._scheduler.shutdown(wait=False)
            # AsyncIOScheduler defers its shutdown to the loop: let it run before return.
            await asyncio.sleep(0)
        if self._hooks is not None and _CALLBACKS.get(self.name) is self._hooks:
            del _CALLBACKS[self.name]
        if self._owns_engine:
            self._engine.dispose()

    def schedule(self, when: datetime) -> None:
        """Call `on_due(when)` at `when` (now, if past). The job's id is the moment:
        waking again at a moment already scheduled (another reminder due then, a
        restart, another replica) replaces that job, not adds one."""
        if when.tzinfo is None:
            raise ValueError(f"naive datetime {when!r}: schedule in aware UTC")
        moment = when.astimezone(UTC).isoformat()
        self._scheduler.add_job(
            wake,
            trigger="date",
            run_date=when.astimezone(UTC) - self._early,
            args=[self.name, moment],
            id=JOB_PREFIX + moment,
            name=moment,
            replace_existing=True,
        )

    def resume(self, reminders: Iterable[Reminder], now: datetime) -> None:
        """Wake at every unsent reminder's moment: what the job table lost, the store kept."""
        for when in sorted({fire_time(r, now) for r in reminders if r.sent_at is None}):
            self.schedule(when)

    def scheduled(self) -> set[datetime]:
        """The moments it will wake at, read from the jobs' ids (exact: the job table
        keeps run times as float timestamps)."""
        return {
            datetime.fromisoformat(job.id.removeprefix(JOB_PREFIX))
            for job in self._scheduler.get_jobs()
            if job.id.startswith(JOB_PREFIX)
        }
