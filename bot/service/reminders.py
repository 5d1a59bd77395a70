"""Reminders before an activation ends, the ended notice, and reconciliation with Graph."""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from bot.domain.audit import AuditKind, event_for
from bot.domain.models import ActiveAssignment
from bot.domain.reminders import (
    Reminder,
    ReminderKind,
    fire_time,
    reminder_plan,
    should_send,
    wake_at,
)
from bot.domain.requests import ActivationRecord, RequestState
from bot.domain.targets import TargetKind
from bot.errors import GraphError
from bot.service.deps import Deps
from bot.service.ports import Trigger
from bot.service.signins import SignInRequired, StepUpRequired

log = logging.getLogger(__name__)
S = RequestState
LIVE = frozenset({S.ACTIVE})
ENDED_OUTSIDE = "ended outside pimbot (portal or another tool)"
Ends = dict[tuple[TargetKind, str, str], datetime | None]
_Read = tuple[frozenset[str], list[ActiveAssignment]]  # a tenant-wide read: roles, instances
# Due reminders claimed per statement, queued per transaction: a round trip and a commit
# per batch, not per reminder.
BATCH = 200
# How long a claimed batch is this run's alone: past it (its claimer died before marking
# it sent), the next run or sweep claims it again. Longer than a batch takes (one Graph
# read and two commits), short enough that a survivor sends what a dead replica held
# within a minute or so.
CLAIM = timedelta(seconds=60)
IN_FLIGHT = 32  # activations whose ended notices are being told at once
# The scheduler wakes this long before a moment (bot.store.scheduler, `early`) for the
# tenant-wide read that confirms the reminders due then: a paged read of every live
# instance of their roles (1,000 took 0.6 s on the sandbox, bench/scale.py; Graph pages
# a hundred at a time) made before the moment, not after it, while no DM can go out.
READ_AHEAD = timedelta(seconds=5)
# A moment this process scheduled is not scheduled again while its job is certainly
# still waiting: more than this ahead (the job starts READ_AHEAD before its moment).
_STILL_WAITING = 2 * READ_AHEAD


class ReminderService:
    """Plans reminders in the store, triggers them through the scheduler, sends each once.

    The store is the source of truth: `run_due` sends whatever is due and unsent, so a
    lost job, a restart or a moved clock never loses a reminder.
    """

    def __init__(
        self,
        deps: Deps,
        trigger: Trigger,
        *,
        late_by: Callable[[float], None] | None = None,
        tenant_wide: bool = True,
    ) -> None:
        """`late_by(seconds)`: told how late each reminder went out (a metric).
        `tenant_wide`: the bot may read every user's roles in one call (application
        mode); in user mode each user's own read confirms their activations."""
        self._svc, self.trigger, self._late_by = deps, trigger, late_by
        self._tenant_wide = tenant_wide
        self._running = self._again = False
        # The confirmation read of the run under way (`_read_all`): roles read, instances.
        self._tenant_read: _Read | None = None
        self._ahead: tuple[datetime, _Read] | None = None  # `read_ahead`'s, for its moment
        self._waking: list[datetime] = []  # a heap of the moments scheduled here
        self._waking_at: set[datetime] = set()

    def plan(self, record: ActivationRecord) -> list[Reminder]:
        """(Re)plan the reminders of a live activation; idempotent by reminder id."""
        plan = self.keep(record)
        self.wake(plan)
        return plan

    def keep(self, record: ActivationRecord) -> list[Reminder]:
        """The reminders of a live activation stored (in the caller's transaction, inside
        `Store.together`), not yet woken for: `wake` once it is committed."""
        if record.end is None:
            return []
        now = self._svc.clock.now()
        leads = self._svc.config.reminders.lead_times
        plan = reminder_plan(record.end, leads, now, request_id=record.id, start=record.start)
        self._svc.store.save_reminders(plan)
        return plan

    def wake(self, reminders: list[Reminder]) -> None:
        self._wake_for(reminders, self._svc.clock.now())

    def plan_many(self, records: Iterable[ActivationRecord]) -> list[Reminder]:
        """`plan` for many activations at once: their reminders saved in one transaction
        (not one per activation), then triggered. Blocking: from the event loop, run it
        in a worker thread (`asyncio.to_thread`); the store's engine hands each thread
        its own connection, and APScheduler's `add_job` takes its job-store lock and
        wakes the scheduler on its loop thread-safely (`call_soon_threadsafe`). A burst
        falling due together is one wake."""
        now = self._svc.clock.now()
        leads = self._svc.config.reminders.lead_times
        plan = [
            reminder
            for record in records
            if record.end is not None
            for reminder in reminder_plan(
                record.end, leads, now, request_id=record.id, start=record.start
            )
        ]
        self._svc.store.save_reminders(plan)
        self._wake_for(plan, now)
        return plan

    def _wake_for(self, reminders: Iterable[Reminder], now: datetime) -> None:
        """One wake per moment on the grid: `run_due` sends all that is due then."""
        while self._waking and self._waking[0] - now <= _STILL_WAITING:
            self._waking_at.discard(heapq.heappop(self._waking))
        for when in sorted({wake_at(fire_time(reminder, now)) for reminder in reminders}):
            if when in self._waking_at:
                continue
            self.trigger.schedule(when)
            if when - now > _STILL_WAITING:
                heapq.heappush(self._waking, when)
                self._waking_at.add(when)

    def cancel(self, record: ActivationRecord) -> None:
        """Forget its unsent reminders. Their moments' wakes stay (other reminders may
        share them): one that finds nothing due sends nothing."""
        self._svc.store.delete_reminders(record.id)

    def resume(self) -> None:
        """On start: wake at every unsent reminder's moment the job table may have lost;
        a moment already scheduled is left alone (a write per job made start-up
        O(reminders) in database writes)."""
        now = self._svc.clock.now()
        scheduled = getattr(self.trigger, "scheduled", None)
        known: set[datetime] = scheduled() if scheduled is not None else set()
        unsent = self._svc.store.list_reminders(unsent_only=True)
        for when in sorted({wake_at(fire_time(reminder, now)) for reminder in unsent} - known):
            self.trigger.schedule(when)

    async def run_due(self) -> int:
        """Send every unsent reminder whose moment has come, claimed in batches; returns
        how many were claimed. Called while a run is under way, it asks that run to look
        again rather than starting a second beside it (a burst of scheduler jobs falling
        due together is one run, not one per job)."""
        self._again = True
        if self._running:
            return 0
        self._running, handled = True, 0
        self._tenant_read = self._read_ahead_for(self._svc.clock.now())  # else afresh
        try:
            while self._again:
                self._again = False
                while batch := self._claim():
                    handled += len(batch)
                    await self._send_batch(batch)
        finally:
            self._running, self._tenant_read = False, None  # not kept between runs
        return handled

    async def read_ahead(self, moment: datetime) -> None:
        """Before `moment` (`READ_AHEAD`): the tenant-wide read confirming the reminders
        due then, for the run at the moment. An activation ended outside pimbot in
        between is still reminded: as when Graph cannot say, a needless reminder beats
        a missing one (the ended notice follows from reconciliation)."""
        roles = self._svc.store.roles_to_remind(moment) if self._tenant_wide else set()
        if roles:
            read = await self._svc.graph.list_active_all(roles)
            self._ahead = (moment, (frozenset(roles), read))

    def _read_ahead_for(self, now: datetime) -> _Read | None:
        """The read made ahead for a moment that has come (just: one left by a moment
        long past, the run's own read is fresher); one for a later moment is kept."""
        if self._ahead is None or self._ahead[0] > now:
            return None
        (moment, read), self._ahead = self._ahead, None
        return read if now - moment <= READ_AHEAD else None

    def _claim(self) -> list[Reminder]:
        return self._svc.store.claim_due_reminders(self._svc.clock.now(), BATCH, CLAIM)

    async def on_due(self, moment: datetime | None = None) -> None:
        """The scheduler's callback at `moment`: run the due reminders (those of that
        moment and any before). Woken early (the scheduler's clock ahead of ours), it
        wakes again at the moment."""
        if moment is not None and moment > self._svc.clock.now():
            self.trigger.schedule(moment)
            return
        await self.run_due()  # one under way already: it looks again instead

    async def _send_batch(self, batch: list[Reminder]) -> None:
        """Claimed reminders, by activation: confirmed with Graph (one read per run); the
        "ends in" DMs queued in one transaction, each under its own key; then the batch
        marked sent with its audit rows in another. A crash before that mark leaves the
        claim to run out and the batch to be claimed again: the keys keep a DM queued
        already from being queued twice, so each goes out once, none is lost."""
        by_record: dict[str, list[Reminder]] = defaultdict(list)
        for reminder in batch:
            by_record[reminder.request_id].append(reminder)
        found = {r.id: r for r in self._svc.store.get_requests(list(by_record))}
        records = [found[request_id] for request_id in by_record if request_id in found]
        now = self._svc.clock.now()
        ask = [r for r in records if _reminds(by_record[r.id], r, now)]
        held = await self._held(ask)
        remind: list[tuple[ActivationRecord, Reminder]] = []
        ending: list[tuple[ActivationRecord, str | None]] = []
        for record in records:
            due, ends, detail = _sort_out(by_record[record.id], record, held, now)
            remind += [(record, reminder) for reminder in due]
            if ends:
                ending.append((record, detail))
        failed = await self._end_all(ending)
        await self._remind_all(remind, now)
        # Every claimed reminder is settled now (its DM queued, its end told, or nothing
        # left to say: an activation the store lost), but for an ended notice that could
        # not be told: its claim runs out and a later run tries again.
        settled = [r.id for r in batch if r.request_id not in failed]
        events = [event_for(AuditKind.REMINDED, r, at=now, actor=None) for r, _ in remind]
        # No one's act: pimbot reminded; the requester is the subject (event_for).
        self._svc.store.mark_reminders_sent(
            settled, self._svc.clock.now(), audit=events, lines=self._svc.audit.lines(events)
        )
        await self._svc.audit.recorded(events)
        if self._late_by is not None:
            for _, reminder in remind:
                self._late_by((self._svc.clock.now() - reminder.due_at).total_seconds())

    async def _remind_all(
        self, remind: list[tuple[ActivationRecord, Reminder]], now: datetime
    ) -> None:
        if remind:
            keyed = [(record, _once(reminder)) for record, reminder in remind]
            await self._svc.notifier.remind_many(keyed, now)

    async def _end_all(self, ending: list[tuple[ActivationRecord, str | None]]) -> set[str]:
        """Ended notices (a burst of activations ending together), side by side, bounded;
        the ids of the records whose end could not be told."""
        gate = asyncio.Semaphore(IN_FLIGHT)

        async def one(record: ActivationRecord, detail: str | None) -> None:
            async with gate:
                await self._end(record, detail)

        outcomes = await asyncio.gather(*(one(r, d) for r, d in ending), return_exceptions=True)
        failed = set()
        for (record, _), outcome in zip(ending, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                log.error("an ended notice was not sent; trying again later", exc_info=outcome)
                failed.add(record.id)
        return failed

    async def _held(self, records: list[ActivationRecord]) -> set[str]:
        """Ids of the records Graph still shows held. Application mode: one tenant-wide
        read for the whole batch; what it does not show (or user mode: nobody may read
        tenant-wide) is asked per user, once per user. When Graph cannot say, remind:
        a needless reminder beats a missing one."""
        if not records:
            return set()
        held: set[str] = set()
        misses = records
        if self._tenant_wide:
            try:
                read = await self._read_all({r.role_id for r in records})
            except (GraphError, SignInRequired, StepUpRequired):
                return {r.id for r in records}
            mine: dict[str, list[ActiveAssignment]] = defaultdict(list)
            for instance in read:
                mine[instance.principal_id].append(instance)
            held = {r.id for r in records if _target(r) in _ends(mine[r.principal_id])}
            # A role held through a group is the group's instance: the user's own read,
            # which lists what their groups hold, decides.
            misses = [r for r in records if r.id not in held]
        by_user: dict[str, list[ActivationRecord]] = defaultdict(list)
        for record in misses:
            by_user[record.principal_id].append(record)
        gate = asyncio.Semaphore(IN_FLIGHT)
        for found in await asyncio.gather(*(self._held_by(rs, gate) for rs in by_user.values())):
            held |= found
        return held

    async def _read_all(self, roles: set[str]) -> list[ActiveAssignment]:
        """The tenant-wide read of these roles' live instances, once per run: the batches
        of one burst (seconds apart) share it. Each read lists every live instance of the
        roles, however few the batch asks about: one per batch made a burst of 1,000
        five reads of the whole tenant."""
        if self._tenant_read is not None and roles <= self._tenant_read[0]:
            return self._tenant_read[1]
        read = await self._svc.graph.list_active_all(roles)
        self._tenant_read = (frozenset(roles), read)
        return read

    async def _held_by(self, records: list[ActivationRecord], gate: asyncio.Semaphore) -> set[str]:
        """One user's records Graph still shows held: one read of the user's roles."""
        async with gate:
            return await self._user_holds(records)

    async def _user_holds(self, records: list[ActivationRecord]) -> set[str]:
        try:
            with self._svc.actors.acting_as(records[0].requester):
                instances = await self._svc.graph.list_active(records[0].principal_id)
        except (GraphError, SignInRequired, StepUpRequired):
            return {r.id for r in records}
        ends = _ends(instances)
        return {r.id for r in records if _target(r) in ends}

    async def _end(self, record: ActivationRecord, detail: str | None) -> None:
        """The activation is over: recorded once, audited, and its requester told (the
        reminder that brought us here was claimed already)."""
        ended = self._svc.store.transition(record.id, LIVE, S.ENDED)
        if ended is None:
            return  # deactivated already: that path told the user
        self.cancel(ended)
        await self._audit(AuditKind.ENDED, ended, detail)
        await self._svc.notifier.notify_ended(ended, detail)

    async def reconcile(self) -> int:
        """Sync live activations with Graph: one read per user with a live activation.
        Catches activations ended or extended outside the bot; returns records changed."""
        by_user: dict[str, list[ActivationRecord]] = defaultdict(list)
        for record in self._svc.store.list_requests(states=LIVE):
            by_user[record.principal_id].append(record)
        changed = 0
        for principal_id, records in by_user.items():
            try:
                with self._svc.actors.acting_as(records[0].requester):
                    instances = await self._svc.graph.list_active(principal_id)
            except GraphError as exc:
                log.warning("reconcile: skipped a user this round (%s)", exc.code)
                continue
            except (SignInRequired, StepUpRequired):
                continue  # user mode: nobody can read their roles until they sign in again
            ends = _ends(instances)
            for record in records:
                changed += await self._reconcile_one(record, ends)
        return changed

    async def reconcile_with(self, instances: list[ActiveAssignment]) -> int:
        """Sync live activations with a tenant-wide read (bot.service.reconcile): no
        Graph call of its own. Returns records changed."""
        by_user: dict[str, list[ActiveAssignment]] = defaultdict(list)
        for instance in instances:
            by_user[instance.principal_id].append(instance)
        changed = 0
        for record in self._svc.store.list_requests(states=LIVE):
            changed += await self._reconcile_one(record, _ends(by_user[record.principal_id]))
        return changed

    async def _reconcile_one(self, record: ActivationRecord, ends: Ends) -> int:
        now = self._svc.clock.now()
        key = _target(record)
        if key not in ends:
            if record.end is not None and record.end <= now:
                return 0  # expired normally: the ended reminder reports it
            await self._end(record, ENDED_OUTSIDE)
            return 1
        end = ends[key]
        if end is not None and end != record.end:
            updated = self._svc.store.update_request(record.id, end=end)
            self.plan(updated)
            return 1
        return 0

    async def _audit(self, kind: AuditKind, record: ActivationRecord, detail: str | None) -> None:
        now = self._svc.clock.now()
        # No one's act: pimbot reminded, or saw the activation end; the requester is the
        # subject (event_for), not the actor.
        event = event_for(kind, record, at=now, actor=None, detail=detail)
        await self._svc.audit.record(event)


def _ends(instances: list[ActiveAssignment]) -> Ends:
    """Ends by target: the same role at another scope is another assignment."""
    return {(i.kind, i.role_id, i.scope.id): i.end for i in instances}


def _reminds(reminders: list[Reminder], record: ActivationRecord, now: datetime) -> bool:
    """Whether any of these claimed reminders is an "ends in" to confirm with Graph."""
    return record.state is S.ACTIVE and any(
        r.kind is not ReminderKind.ENDED and should_send(r, record.end, now) for r in reminders
    )


def _sort_out(
    reminders: list[Reminder], record: ActivationRecord, held: set[str], now: datetime
) -> tuple[list[Reminder], bool, str | None]:
    """One activation's claimed reminders: the "ends in" ones to send; whether it ended,
    and how (its ended reminder came: no detail; Graph no longer shows it: ended outside,
    and no "ends in" with Extend buttons for it). One that no longer applies: neither."""
    if any(r.kind is ReminderKind.ENDED for r in reminders):
        return [], True, None
    due = [r for r in reminders if record.state is S.ACTIVE and should_send(r, record.end, now)]
    if due and record.id not in held:
        return [], True, ENDED_OUTSIDE
    return due, False, None


def _once(reminder: Reminder) -> str:
    """The outbox key of a reminder's DM: its id and moment (re-planned after an extension,
    the same id at a new moment is a new message)."""
    return f"reminder {reminder.id} {reminder.due_at.isoformat()}"


def _target(record: ActivationRecord) -> tuple[TargetKind, str, str]:
    return record.target_kind, record.role_id, record.scope.id
