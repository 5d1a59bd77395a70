"""APScheduler adapter: triggers reminders by id at planned times, across restarts.

What to send and when is decided elsewhere (`bot.domain.reminders` plans, the service
sends); this module only persists "call back with this id at that time". Jobs live in a
SQLAlchemy job store on the bot's database, so they survive restarts; one missed while
the bot was down runs on start (no misfire grace limit).

The store, not the job table, is the source of truth. "Sent once" is not APScheduler's
promise: a job can run twice (two processes on one job store), or be lost (APScheduler
deletes a one-off job when it starts running it, so a crash mid-run forgets it). Hence:
the due handler claims the reminder in the store (`SqlStore.claim_reminder`) before
sending, and on start the service calls `resume(store.list_reminders(unsent_only=True))`.

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
from datetime import UTC, datetime

from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_PAUSED
from sqlalchemy.engine import URL, Engine

from bot.domain.reminders import Reminder, fire_time
from bot.store.engine import make_engine

log = logging.getLogger(__name__)

OnDue = Callable[[str], Awaitable[None]]
JOB_PREFIX = "reminder:"

# Live callbacks by scheduler name. A stored job holds only the text reference
# "bot.store.scheduler:fire" and plain-string arguments, which unpickle in any later process;
# the callback (bound to that process's services) is found here when the job runs.
_CALLBACKS: dict[str, OnDue] = {}
# Jobs running now, by scheduler name, so shutdown can let them finish.
_RUNNING: dict[str, set[asyncio.Task[None]]] = {}


async def fire(scheduler_name: str, reminder_id: str) -> None:
    """The job function every reminder job points at (module level, so picklable)."""
    callback = _CALLBACKS.get(scheduler_name)
    if callback is None:
        # The store still holds the reminder unsent; re-planning on start sends it.
        log.warning("reminder %s due but scheduler %r is not running", reminder_id, scheduler_name)
        return
    running = _RUNNING.setdefault(scheduler_name, set())
    task = asyncio.current_task()
    if task is None:  # not run by APScheduler's asyncio executor (a direct call)
        await callback(reminder_id)
        return
    running.add(task)
    try:
        await callback(reminder_id)
    finally:
        running.discard(task)


class _BorrowedEngineJobStore(SQLAlchemyJobStore):  # type: ignore[misc]  # untyped base
    """APScheduler disposes the job store's engine on shutdown; ours may be shared with
    the store (and an in-memory SQLite database dies with its connection)."""

    def shutdown(self) -> None:
        pass


class ReminderScheduler:
    """Schedule and cancel reminder triggers by reminder id; idempotent by id."""

    def __init__(
        self,
        url_or_engine: str | URL | Engine,
        *,
        name: str = "pimbot",
        tablename: str = "apscheduler_jobs",
    ) -> None:
        self._owns_engine = not isinstance(url_or_engine, Engine)
        engine = url_or_engine if isinstance(url_or_engine, Engine) else make_engine(url_or_engine)
        self._engine = engine
        self.name = name
        self._on_due: OnDue | None = None
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

    async def start(self, on_due: OnDue, *, paused: bool = False) -> None:
        """Start on the running event loop, calling `on_due(reminder_id)` for each job that
        falls due; jobs that fell due while the bot was down run now. `paused`: jobs are
        stored (for the replica that runs them) but none runs here until `lead(True)`."""
        self._on_due = on_due
        _CALLBACKS[self.name] = on_due
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
        if self._on_due is not None and _CALLBACKS.get(self.name) is self._on_due:
            del _CALLBACKS[self.name]
        if self._owns_engine:
            self._engine.dispose()

    def schedule(self, reminder_id: str, when: datetime) -> None:
        """Trigger `on_due(reminder_id)` at `when` (now, if past); replaces any job
        for the same id, so rescheduling after an extension or restart is safe."""
        if when.tzinfo is None:
            raise ValueError(f"naive datetime {when!r}: schedule in aware UTC")
        self._scheduler.add_job(
            fire,
            trigger="date",
            run_date=when.astimezone(UTC),
            args=[self.name, reminder_id],
            id=JOB_PREFIX + reminder_id,
            name=reminder_id,
            replace_existing=True,
        )

    def resume(self, reminders: Iterable[Reminder], now: datetime) -> None:
        """(Re)schedule every unsent reminder: what the job table lost, the store kept."""
        for reminder in reminders:
            if reminder.sent_at is None:
                self.schedule(reminder.id, fire_time(reminder, now))

    def cancel(self, reminder_id: str) -> None:
        """Forget a reminder's trigger; nothing happens if there is none."""
        try:
            self._scheduler.remove_job(JOB_PREFIX + reminder_id)
        except JobLookupError:
            pass

    def scheduled(self) -> dict[str, datetime]:
        """Pending triggers: reminder id → when it will fire."""
        jobs = self._scheduler.get_jobs()
        # Before start() jobs wait in memory without a computed run time: not listed.
        when = {job.id: getattr(job, "next_run_time", None) for job in jobs}
        return {
            job_id.removeprefix(JOB_PREFIX): at
            for job_id, at in when.items()
            if job_id.startswith(JOB_PREFIX) and at is not None
        }
