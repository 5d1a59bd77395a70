"""Reminders before an activation ends, the ended notice, and reconciliation with Graph."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime

from bot.domain.audit import AuditKind, event_for
from bot.domain.models import ActiveAssignment
from bot.domain.reminders import Reminder, ReminderKind, fire_time, reminder_plan, should_send
from bot.domain.requests import ActivationRecord, RequestState
from bot.domain.targets import TargetKind
from bot.errors import GraphError
from bot.service.deps import Deps
from bot.service.ports import Trigger
from bot.service.signins import SignInRequired, StepUpRequired

log = logging.getLogger(__name__)
S = RequestState
LIVE = frozenset({S.ACTIVE})
SAME_MOMENT = 0.001  # seconds: the job store keeps run times as float timestamps
ENDED_OUTSIDE = "ended outside pimbot (portal or another tool)"
Ends = dict[tuple[TargetKind, str, str], datetime | None]


class ReminderService:
    """Plans reminders in the store, triggers them through the scheduler, sends each once.

    The store is the source of truth: `run_due` sends whatever is due and unsent, so a
    lost job, a restart or a moved clock never loses a reminder.
    """

    def __init__(
        self, deps: Deps, trigger: Trigger, *, late_by: Callable[[float], None] | None = None
    ) -> None:
        """`late_by(seconds)`: told how late each reminder went out (a metric)."""
        self._svc, self.trigger, self._late_by = deps, trigger, late_by

    def plan(self, record: ActivationRecord) -> list[Reminder]:
        """(Re)plan the reminders of a live activation; idempotent by reminder id."""
        if record.end is None:
            return []
        now = self._svc.clock.now()
        leads = self._svc.config.reminders.lead_times
        plan = reminder_plan(record.end, leads, now, request_id=record.id, start=record.start)
        self._svc.store.save_reminders(plan)
        for reminder in plan:
            self.trigger.schedule(reminder.id, fire_time(reminder, now))
        return plan

    def cancel(self, record: ActivationRecord) -> None:
        for reminder_id in self._svc.store.delete_reminders(record.id):
            self.trigger.cancel(reminder_id)

    def resume(self) -> None:
        """On start: re-trigger every unsent reminder the job table may have lost; one
        already scheduled for its moment is left alone (a write per job made start-up
        O(reminders) in database writes)."""
        now = self._svc.clock.now()
        scheduled = getattr(self.trigger, "scheduled", None)
        known: dict[str, datetime] = scheduled() if scheduled is not None else {}
        for reminder in self._svc.store.list_reminders(unsent_only=True):
            when = fire_time(reminder, now)
            at = known.get(reminder.id)
            if at is not None and abs((at - when).total_seconds()) < SAME_MOMENT:
                continue
            self.trigger.schedule(reminder.id, when)

    async def run_due(self) -> int:
        """Send every unsent reminder whose moment has come; returns how many were handled."""
        now = self._svc.clock.now()
        due = [r for r in self._svc.store.list_reminders(unsent_only=True) if r.due_at <= now]
        for reminder in due:
            await self.on_due(reminder.id)
        return len(due)

    async def on_due(self, reminder_id: str) -> None:
        """The scheduler's callback: send the reminder if it is still right to, once."""
        reminder = self._svc.store.get_reminder(reminder_id)
        if reminder is None or reminder.sent_at is not None:
            return
        record = self._svc.store.get_request(reminder.request_id)
        now = self._svc.clock.now()
        if record is None or reminder.due_at > now:
            if reminder.due_at > now:  # triggered early (clock skew): try again on time
                self.trigger.schedule(reminder.id, reminder.due_at)
            return
        if reminder.kind is ReminderKind.ENDED:
            await self._end(record, reminder, detail=None)
            return
        live = record.state is S.ACTIVE and should_send(reminder, record.end, now)
        if live and not await self._still_held(record):
            # Ended or removed outside pimbot: no "ends in" with Extend buttons for it.
            if self._svc.store.claim_reminder(reminder.id, now):
                await self._end(record, None, ENDED_OUTSIDE)
            return
        if self._svc.store.claim_reminder(reminder.id, now) and live:
            await self._svc.notifier.remind(record, now)
            if self._late_by is not None:
                self._late_by((self._svc.clock.now() - reminder.due_at).total_seconds())
            await self._audit(AuditKind.REMINDED, record, None)

    async def _still_held(self, record: ActivationRecord) -> bool:
        """Confirm with Graph (one read of the requester's roles) before reminding; when
        Graph cannot say, remind: a needless reminder beats a missing one."""
        try:
            with self._svc.actors.acting_as(record.requester):
                instances = await self._svc.graph.list_active(record.principal_id)
        except (GraphError, SignInRequired, StepUpRequired):
            return True
        return _target(record) in _ends(instances)

    async def _end(
        self, record: ActivationRecord, reminder: Reminder | None, detail: str | None
    ) -> None:
        now = self._svc.clock.now()
        if reminder is not None and not self._svc.store.claim_reminder(reminder.id, now):
            return
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
            await self._end(record, None, ENDED_OUTSIDE)
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


def _target(record: ActivationRecord) -> tuple[TargetKind, str, str]:
    return record.target_kind, record.role_id, record.scope.id
