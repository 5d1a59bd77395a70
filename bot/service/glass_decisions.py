"""Ratify and Revoke on a break-glass alert: by an approver of the role, never the
requester, each approver once; the compare-and-sets in the store make each settle once."""

from __future__ import annotations

from bot.domain.audit import AuditKind, event_for
from bot.domain.breakglass import BreakGlassRecord, GlassState
from bot.domain.people import PersonKey
from bot.domain.requests import ActivationRecord
from bot.errors import NoLongerPossible, NotAuthorised, RequestNotFound
from bot.service.approvers import Approvers
from bot.service.deps import Deps
from bot.service.glass_end import GlassEnder, end_at
from bot.service.outcomes import GlassDecision

G = GlassState


class GlassDecisions:
    """Who may ratify or revoke is decided like who may approve (`Approvers`, from the
    store and the effective policy), never from what the click carried but the id."""

    def __init__(self, deps: Deps, ender: GlassEnder) -> None:
        self._d, self.ender = deps, ender
        self._approvers = Approvers(deps)

    async def ratify(self, person: PersonKey, request_id: str) -> GlassDecision:
        """One approver's ratification, once each; enough of them in time settle it."""
        record, glass = await self._authorised(person, request_id, "ratify")
        now = self._d.clock.now()
        if now >= glass.ratify_by:
            await self.ender.run_due()
            raise NoLongerPossible(f"Break-glass `{record.id}` was not ratified in time.")
        counted = self._d.store.add_ratification(record.id, person, now)
        if counted is None:
            if (now_glass := self._glass(record.id)).state is not G.AWAITING:
                raise _settled(now_glass)
            raise NoLongerPossible(f"You have already ratified break-glass `{record.id}`.")
        await self._audit(AuditKind.RATIFIED, record, person, _count(counted))
        if counted.state is G.RATIFIED:
            await self._d.notifier.glass_settled(record, counted)
        await self._d.notifier.update_glass_alert(record, counted)
        return GlassDecision(record, counted, ratified=True)

    async def revoke(self, person: PersonKey, request_id: str) -> GlassDecision:
        """End the break-glass now, or at Entra's 5-minute floor if it is younger."""
        record, glass = await self._authorised(person, request_id, "revoke")
        now = self._d.clock.now()
        won = self._d.store.settle_break_glass(
            record.id,
            frozenset({G.AWAITING}),
            G.REVOKED,
            settled_by=person,
            settled_at=now,
            end_at=end_at(glass, now),
        )
        if won is None:
            raise _settled(self._glass(record.id))
        ends = "now" if won.end_at == now else f"at {won.end_at:%H:%M} UTC (Entra's 5-min floor)"
        await self._audit(AuditKind.REVOKED, record, person, f"revoked; it ends {ends}")
        glass = await self.ender.end_if_due(won)
        record = self._d.store.get_request(record.id) or record
        await self._d.notifier.glass_settled(record, glass)
        await self._d.notifier.update_glass_alert(record, glass)
        return GlassDecision(record, glass, ratified=False)

    async def _authorised(
        self, person: PersonKey, request_id: str, verb: str
    ) -> tuple[ActivationRecord, BreakGlassRecord]:
        """The stored request and its break-glass, if `person` may ratify or revoke it:
        an approver of the role, never the requester; refusals are audited."""
        record = self._d.store.get_request(request_id)
        glass = self._d.store.get_break_glass(request_id) if record else None
        if record is None or glass is None:
            raise RequestNotFound(f"There is no break-glass `{request_id}`.")
        if glass.state is not G.AWAITING:
            raise _settled(glass)
        why: str | None
        if person == record.requester:
            why = "it is your own break-glass — another approver has to ratify or revoke it"
        else:
            why = await self._approvers.why_not(record, person)
        if why:
            await self._audit(AuditKind.DECISION_REFUSED, record, person, f"{verb}: {why}")
            raise NotAuthorised(f"You can't {verb} this break-glass, because {why}.")
        return record, glass

    def _glass(self, request_id: str) -> BreakGlassRecord:
        glass = self._d.store.get_break_glass(request_id)
        if glass is None:
            raise RequestNotFound(f"There is no break-glass `{request_id}`.")
        return glass

    async def _audit(
        self, kind: AuditKind, record: ActivationRecord, actor: PersonKey, detail: str
    ) -> None:
        now = self._d.clock.now()
        await self._d.audit.record(event_for(kind, record, at=now, actor=actor, detail=detail))


def _count(glass: BreakGlassRecord) -> str:
    return f"{len(glass.ratified_by)} of {glass.required} ratification(s)"


def _settled(glass: BreakGlassRecord) -> NoLongerPossible:
    by = f" by another approver at {glass.settled_at:%H:%M} UTC" if glass.settled_by else ""
    state = "not ratified in time" if glass.state is G.LAPSED else glass.state.value
    return NoLongerPossible(f"Break-glass `{glass.request_id}` was already {state}{by}.")
