"""Ending a break-glass: not ratified in time (lapsed) or revoked, on the bot's clock.

The deadline and the planned end are rows in the store, and the periodic sweep runs
`run_due`, so a restart loses nothing: what fell due while the bot was down is done on
the first sweep after it starts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.domain.audit import AuditKind, event_for
from bot.domain.breakglass import BreakGlassRecord, GlassState
from bot.domain.people import PersonKey
from bot.domain.requests import ActivationRecord, RequestState
from bot.errors import GraphError, PimError
from bot.service.deps import Deps
from bot.service.ports import ActivationHooks

S, G = RequestState, GlassState
# Entra refuses to end an activation in its first five minutes: 400 ActiveDurationTooShort,
# "The Active duration is too short. Miniumum Required is 5 minutes." (as reported in
# https://github.com/DanielChronlund/DCToolbox/issues/50; bot.service.activation.MIN_ACTIVE):
# a revoked or lapsed break-glass ends then.
MIN_ACTIVE = timedelta(minutes=5)
RETRY = timedelta(minutes=1)  # Entra's clock a little ahead of ours: try again soon


def end_at(glass: BreakGlassRecord, now: datetime) -> datetime:
    """When pimbot may end it: now, or once its first five minutes have passed."""
    return max(now, glass.started_at + MIN_ACTIVE)


class GlassEnder:
    """Lapses break-glasses not ratified in time and ends those revoked or lapsed, once."""

    def __init__(self, deps: Deps, hooks: ActivationHooks) -> None:
        self._d, self._hooks = deps, hooks

    async def run_due(self) -> int:
        """Lapse what was not ratified by its deadline, then end what is due; how many
        were ended."""
        now = self._d.clock.now()
        for glass in self._d.store.list_break_glass(states=frozenset({G.AWAITING})):
            if glass.ratify_by <= now:
                await self._lapse(glass, now)
        ended = 0
        for glass in self._d.store.list_break_glass(states=frozenset({G.REVOKED, G.LAPSED})):
            if glass.ended_at is None and glass.end_at is not None and glass.end_at <= now:
                ended += await self._end_and_tell(glass)
        return ended

    async def _lapse(self, glass: BreakGlassRecord, now: datetime) -> None:
        won = self._d.store.settle_break_glass(
            glass.request_id,
            frozenset({G.AWAITING}),
            G.LAPSED,
            settled_at=now,
            end_at=end_at(glass, now),
        )
        record = self._d.store.get_request(glass.request_id)
        if won is None or record is None:
            return  # ratified or revoked meanwhile
        detail = (
            f"{len(won.ratified_by)} of {won.required} ratification(s) by "
            f"{won.ratify_by:%H:%M} UTC: not ratified in time, so pimbot ends it"
        )
        await self._audit(AuditKind.BREAK_GLASS_EXPIRED, record, None, detail)
        if won.end_at is not None and won.end_at > now:  # told now; told again when it ends
            await self._d.notifier.glass_settled(record, won)
            await self._d.notifier.update_glass_alert(record, won)

    async def _end_and_tell(self, glass: BreakGlassRecord) -> int:
        done = await self.end_if_due(glass)
        if done.ended_at is None:
            return 0
        record = self._d.store.get_request(glass.request_id)
        if record is not None:
            await self._d.notifier.glass_settled(record, done)
            await self._d.notifier.update_glass_alert(record, done)
        return 1

    async def end_if_due(self, glass: BreakGlassRecord) -> BreakGlassRecord:
        """Deactivate in Graph once its end is due (claimed first, so exactly once); the
        break-glass as it stands after."""
        now = self._d.clock.now()
        claimed = self._d.store.claim_glass_end(glass.request_id, now)
        record = self._d.store.get_request(glass.request_id)
        if claimed is None or record is None:
            return self._d.store.get_break_glass(glass.request_id) or glass
        if record.state is S.ACTIVATING:  # Entra still applying it: end it once it is
            return self._d.store.update_break_glass(glass.request_id, ended_at=None)
        if record.state is not S.ACTIVE or (record.end is not None and record.end <= now):
            return claimed  # already over: nothing left to end
        try:
            with self._d.actors.acting_as(record.requester):
                result = await self._d.graph.deactivate(
                    record.principal_id, record.target, _why(claimed)
                )
        except GraphError as exc:
            return await self._not_ended(claimed, record, exc, now)
        except PimError as exc:  # user mode: the requester's sign-in is needed
            return self._d.store.update_break_glass(
                glass.request_id, ended_at=None, end_at=now + RETRY, error=exc.user_message
            )
        ended = self._d.store.transition(record.id, frozenset({S.ACTIVE}), S.ENDED, end=now)
        if ended is not None:
            self._hooks.cancel(ended)
        detail = "deactivated: " + _why(claimed)
        await self._audit(AuditKind.BREAK_GLASS_ENDED, ended or record, None, detail, result.id)
        return claimed

    async def _not_ended(
        self, glass: BreakGlassRecord, record: ActivationRecord, exc: GraphError, now: datetime
    ) -> BreakGlassRecord:
        """Too soon for Entra: try again shortly. Anything else is recorded, audited and
        tried again on a later sweep; the alert says so."""
        again = now + RETRY
        if exc.code != "ActiveDurationTooShort":
            detail = f"ending it failed ({exc.code}): {exc.user_message}; trying again"
            await self._audit(AuditKind.ACTIVATION_FAILED, record, None, detail)
        return self._d.store.update_break_glass(
            glass.request_id, ended_at=None, end_at=again, error=exc.user_message
        )

    async def _audit(
        self,
        kind: AuditKind,
        record: ActivationRecord,
        actor: PersonKey | None,
        detail: str,
        graph_request_id: str | None = None,
    ) -> None:
        event = event_for(
            kind,
            record,
            at=self._d.clock.now(),
            actor=actor,
            detail=detail,
            graph_request_id=graph_request_id,
        )
        await self._d.audit.record(event)


def _why(glass: BreakGlassRecord) -> str:
    if glass.state is G.REVOKED:
        return "break-glass revoked by an approver"
    return "break-glass not ratified in time"
