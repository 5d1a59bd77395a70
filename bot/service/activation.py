"""Use cases: request, activate, deactivate, extend, cancel, and what a user can see."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from bot.domain.approvals import Asked
from bot.domain.audit import AuditEvent, AuditKind, span
from bot.domain.breakglass import GlassState
from bot.domain.command_types import (
    Activate,
    Cancel,
    Deactivate,
    DeactivateRequest,
    Extend,
    ExtendRequest,
    ResumeRequest,
)
from bot.domain.extensions import check_extension
from bot.domain.models import ActivationSpec, Role, Ticket
from bot.domain.people import PersonKey
from bot.domain.policy import CONFIG_APPROVAL, GRAPH_APPROVAL, EffectivePolicy, check_request
from bot.domain.requests import (
    IN_EFFECT,
    OPEN_STATES,
    REFUSED,
    ActivationRecord,
    RequestState,
)
from bot.domain.targets import Scope, Target, split_scope
from bot.domain.validation import check_justification, check_ticket
from bot.errors import (
    AlreadyActive,
    AlreadyRequested,
    DuplicateRequest,
    ExtensionNotApplied,
    GraphError,
    NoLongerPossible,
    NotAuthorised,
    PimError,
    PolicyViolation,
    RequestNotFound,
    TooSoonToDeactivate,
)
from bot.service.approvers import Approvers
from bot.service.deps import Deps
from bot.service.identity import Requester
from bot.service.leases import DUPLICATE, Leases
from bot.service.outcomes import EligibleRole, Outcome, OutcomeKind, Overview
from bot.service.policies import approvals_channel
from bot.service.ports import ActivationHooks
from bot.service.readiness import ReadinessService
from bot.service.signins import SignInRequired, StepUpRequired

S = RequestState
log = logging.getLogger(__name__)
_NEEDS_APPROVAL = (
    "Microsoft Entra can't extend an activation, and {role} needs approval, so pimbot won't "
    "end it to activate it again: you'd be without it while the request waits. When it ends, "
    "ask again with `/pim activate`."
)
# Entra refuses to end an activation in its first five minutes: Graph answers 400
# ActiveDurationTooShort, "The Active duration is too short. Miniumum Required is 5
# minutes." (seen in PIM CLIs' error handling; the portal states the same floor).
MIN_ACTIVE = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Extension:
    """An extension checked against the effective policy: what to ask for or apply.
    `graph_start` is Entra's start of the running activation (its latest renewal)."""

    requester: Requester
    role: Role
    target: Target
    effective: EffectivePolicy
    mine: ActivationRecord | None  # the activation record it lengthens; None: outside pimbot
    graph_start: datetime | None
    current_end: datetime
    new_end: datetime
    duration: timedelta
    justification: str
    ticket: Ticket | None
    request_id: str | None = None  # the extension request approved, if one was needed


class PimService:
    """The bot's use cases. Knows nothing of Slack or HTTP."""

    def __init__(
        self,
        deps: Deps,
        hooks: ActivationHooks,
        *,
        entra_decides: bool = False,
        readiness: ReadinessService | None = None,
        leases: Leases | None = None,
    ) -> None:
        self.graph, self.store, self.identity = deps.graph, deps.store, deps.identity
        self.catalog, self.policies, self.notifier = deps.catalog, deps.policies, deps.notifier
        self.config, self.clock, self.queries = deps.config, deps.clock, deps.queries
        self.actors, self.audit = deps.actors, deps.audit
        self.hooks = hooks  # reminders: planned when an activation starts or moves
        # User mode: where Entra's own policy requires approval, Entra holds the request.
        self.entra_approvals = entra_decides
        self.readiness = readiness  # follows an accepted activation to "in effect"
        self._approvers = Approvers(deps)  # whom an approval card asks
        # Replicas: a request being activated is leased, so a survivor carries it on.
        self.leases = leases

    async def overview(self, person: PersonKey) -> Overview:
        """Eligible roles (direct and via groups), active assignments and pending requests."""
        requester = await self.identity.resolve(person)
        eligible = await self.queries.eligible(requester)
        active = await self.queries.active(requester)
        pending = self.store.list_requests(requester=person, states=OPEN_STATES)
        return Overview(requester, eligible, active, pending, self.clock.now())

    async def request_activation(self, person: PersonKey, command: Activate) -> Outcome:
        """Check eligibility and policy, then activate now or hold for approval."""
        role_text, duration = command.role, command.duration
        ticket, justification = command.ticket, command.justification
        requester = await self.identity.resolve(person)
        role_text, hint = split_scope(role_text)  # `helpdesk-admin@paris`: which scope
        role = self.catalog.resolve(role_text)
        match = await self.queries.eligible_for(requester, role, hint)
        target = match.target  # the eligibility's own scope: never a wider one
        try:
            check_request(
                match.policy,
                role_name=role.display_name,
                duration=duration,
                ticket=ticket,
                justification=justification,
                ticket_cfg=self.config.ticket,
                justification_cfg=self.config.justification,
            )
        except PolicyViolation as exc:
            await self._audit(
                AuditKind.REFUSED,
                requester,
                target,
                detail=exc.user_message,
                attempted=(ticket, justification),
            )
            raise
        # Store what was checked (trimmed, whitespace collapsed), not the raw text.
        if justification.strip():
            justification = check_justification(justification, self.config.justification)
        ticket = check_ticket(ticket, self.config.ticket) if ticket and ticket.strip() else None
        held = match.policy.approval_required and not self._entra_decides(match)
        if held:
            # Approvers' time is not spent on a role already active. An activation sent
            # straight to Graph skips this read: Graph refuses the duplicate
            # (RoleAssignmentExists, `_already_active`).
            await self.queries.refuse_if_active(requester, target)
            self._refuse_if_requested(person, target)
        if match.policy.approval_required:
            self._need_approvals_channel(role)
        record = self._new_record(requester, target, duration, ticket, justification)
        try:
            # An activation sent straight to Graph reads nothing first: the store refuses
            # a second open request for the same person and target (its unique index, v19),
            # which is one round trip less on every activation and closes the race between
            # a read and an insert besides. The request and its audit row: one transaction.
            with self.store.together():
                self.store.add_request(record)
                requested = self._kept_event(AuditKind.REQUESTED, requester, target, record)
        except DuplicateRequest:  # an open request for the same target exists already
            self._refuse_if_requested(person, target)  # names it
            raise
        await self.audit.recorded([requested])
        if held:
            return await self._hold_for_approval(requester, record, match)
        # Checked and due for Graph: leased, then claimed (`activating`), so a survivor
        # activates it if this replica dies before it does (bot/service/leases.py). Not
        # stored claimed: one that died before its lease would be left to a restart.
        with self.leased(record.id), self.actors.acting_as(requester.person):
            self._claim_request(record)
            return await self._activate_claimed(requester, role, record)

    async def deactivate(self, person: PersonKey, command: Deactivate) -> Outcome:
        """End the user's live assignment of a role now, at the one scope it is active at."""
        return await self._deactivate(person, command.role, None)

    async def _deactivate(
        self,
        person: PersonKey,
        role_text: str,
        scope: Scope | None,
        mine: ActivationRecord | None = None,
    ) -> Outcome:
        """Of two deactivations at once (a double click, a replayed payload) only one
        reaches Graph: the request behind the activation is claimed first."""
        requester = await self.identity.resolve(person)
        role_text, hint = split_scope(role_text)
        role = self.catalog.resolve(role_text)
        live_role = await self.queries.find_active(requester, role, scope, hint)
        target, started = live_role.target, live_role.assignment.start
        if live_role.assignment.end is None:
            raise PolicyViolation(
                f"{role.display_name} ({target.scope.label}) is assigned to you permanently, "
                "by an administrator: it is not pimbot's to remove. Ask your PIM admin."
            )
        if started is not None and self.clock.now() < started + MIN_ACTIVE:
            raise _too_soon(role, started)
        live = self._live_records(person, target)
        mine = mine or (live[0] if live else None)  # None: activated outside pimbot
        with self._claim(mine, mine.end if mine else None, self.clock.now()):
            try:
                result = await self.graph.deactivate(
                    requester.user.id, target, "Deactivated with pimbot by the requester"
                )
            except GraphError as exc:
                if exc.code == "ActiveDurationTooShort":  # Entra's clock is ahead of ours
                    raise _too_soon(role, started or self.clock.now()) from None
                raise
        # The actual end is the removal request's own time, as Graph records it
        # (createdDateTime, https://learn.microsoft.com/graph/api/resources/
        # unifiedroleassignmentschedulerequest): the audit's time held is Entra's.
        ended_at = result.created or self.clock.now()
        for record in live:
            ended = self.store.transition(record.id, frozenset({S.ACTIVE}), S.ENDED, end=ended_at)
            if ended is not None:
                self.hooks.cancel(ended)
        await self._audit(
            AuditKind.DEACTIVATED, requester, target, record=mine, graph_request_id=result.id
        )
        return Outcome(OutcomeKind.DEACTIVATED, requester, target, graph_request_id=result.id)

    async def extend(self, person: PersonKey, command: Extend) -> Outcome:
        """Push the end of a live assignment (at the one scope it is active at) out by
        `duration`, within the policy: from its first start, and `max_extensions`."""
        return await self._extend(
            person, command.role, command.duration, None, command.ticket, command.justification
        )

    async def _extend(
        self,
        person: PersonKey,
        role_text: str,
        duration: timedelta,
        scope: Scope | None,
        ticket: str | None = None,
        justification: str = "",
    ) -> Outcome:
        """An extension is a request: checked like one, and where the role needs approval,
        held for it (nothing changes in Graph until it is approved)."""
        plan = await self._plan_extension(person, role_text, duration, scope, ticket, justification)
        if plan.effective.policy.approval_required:
            return await self._ask_extension(plan)
        return await self._renew(plan)

    async def _plan_extension(
        self,
        person: PersonKey,
        role_text: str,
        duration: timedelta,
        scope: Scope | None,
        ticket: str | None,
        justification: str,
    ) -> Extension:
        """The extension checked against the effective policy, ready to ask for or apply."""
        requester = await self.identity.resolve(person)
        role_text, hint = split_scope(role_text)
        role = self.catalog.resolve(role_text)
        live_role = await self.queries.find_active(requester, role, scope, hint)
        active, target = live_role.assignment, live_role.target
        effective = await self.policies.effective(role)
        if active.end is None:
            raise PolicyViolation(
                f"{role.display_name} is assigned with no end: nothing to extend."
            )
        live = self._live_records(person, target)
        mine = live[0] if live else None
        self._refuse_unratified(mine)
        # The chain counts from its first start, which the record keeps across renewals
        # (Graph's start is the latest re-activation's).
        first = (mine.start if mine else None) or active.start or self.clock.now()
        reason, number = _reason_and_ticket(mine, ticket, justification)
        try:
            check_extension(
                effective.policy,
                role_name=role.display_name,
                first_start=first,
                current_end=active.end,
                new_end=active.end + duration,
                done=mine.extensions if mine else 0,
            )
            check_request(
                effective.policy,
                role_name=role.display_name,
                duration=duration,
                ticket=number,
                justification=reason,
                ticket_cfg=self.config.ticket,
                justification_cfg=self.config.justification,
            )
        except PolicyViolation as exc:
            await self._audit(
                AuditKind.REFUSED, requester, target, record=mine, detail=exc.user_message
            )
            raise
        if justification.strip():  # stored as checked, like an activation's
            reason = check_justification(reason, self.config.justification)
        kept = mine.ticket if mine and mine.ticket and mine.ticket.number == number else None
        if number is not None and kept is None:
            kept = Ticket(check_ticket(number, self.config.ticket), self.config.ticket.system)
        return Extension(
            requester,
            role,
            target,
            effective,
            mine,
            active.start,
            active.end,
            active.end + duration,
            duration,
            reason,
            kept,
        )

    async def _ask_extension(self, plan: Extension) -> Outcome:
        """A role that needs approval: an extension request waits on a card, and the
        activation stays as it is until it is approved (then `apply_extension`)."""
        role, mine = plan.role.display_name, plan.mine
        if self.entra_approvals and GRAPH_APPROVAL in plan.effective.approval_reasons:
            # User mode: Entra's own approval would hold the re-activation (selfActivate)
            # with the role already ended, whatever pimbot's approvers decided.
            raise PolicyViolation(_NEEDS_APPROVAL.format(role=role))
        if mine is None:
            raise PolicyViolation(
                f"{role} was activated outside pimbot and needs approval, so pimbot can't "
                "extend it. When it ends, ask again with `/pim activate`."
            )
        self._refuse_if_requested(mine.requester, plan.target)
        self._need_approvals_channel(plan.target.role)
        record = self._new_record(
            plan.requester, plan.target, plan.duration, None, plan.justification
        )
        # The end the store holds is the one the approval's compare-and-set expects.
        record = record.with_changes(
            ticket=plan.ticket, extends=mine.id, extends_end=mine.end or plan.current_end
        )
        self.store.add_request(record)
        detail = f"extension of request {mine.id}"
        await self._audit(
            AuditKind.REQUESTED, plan.requester, plan.target, record=record, detail=detail
        )
        reasons = plan.effective.approval_reasons
        held = self.store.transition(
            record.id,
            frozenset({S.REQUESTED}),
            S.PENDING_APPROVAL,
            approval_reason="; ".join(reasons) or "the role's policy requires approval",
        )
        final = held or record
        await self._audit(
            AuditKind.PENDING_APPROVAL, plan.requester, plan.target, record=final, detail=detail
        )
        return await self._post_card(plan.requester, plan.target, final, reasons)

    async def apply_extension(
        self, requester: Requester, role: Role, record: ActivationRecord
    ) -> Outcome:
        """Apply an approved extension request once (the store claims it first): checked
        again against the policy and the activation as they are now, then renewed in
        Graph; the request ends as applied, or fails saying why."""
        claimed = self.store.transition(record.id, frozenset({S.APPROVED}), S.ACTIVATING)
        if claimed is None:
            raise NotAuthorised(f"Request `{record.id}` is already being handled.")
        try:
            with self.leased(record.id), self.actors.acting_as(requester.person):
                outcome = await self._apply_claimed(claimed)
        except PimError as exc:  # a sign-in needed (user mode) too: asked again later
            why = exc.user_message
            self.store.transition(record.id, frozenset({S.ACTIVATING}), S.FAILED, error=why)
            raise ExtensionNotApplied(why) from None
        done = self.store.transition(
            record.id,
            frozenset({S.ACTIVATING}),
            S.ENDED,  # applied: its activation (`extends`) carries the new end
            graph_request_id=outcome.graph_request_id,
            end=outcome.end,
        )
        return replace(outcome, record=done or claimed)

    async def _apply_claimed(self, record: ActivationRecord) -> Outcome:
        chain = self.store.get_request(record.extends or "")
        if chain is None:
            raise NoLongerPossible(f"The activation request `{record.extends}` is gone.")
        ticket = record.ticket.number if record.ticket else None
        plan = await self._plan_extension(
            record.requester,
            record.role_id,
            record.duration,
            record.scope,
            ticket,
            record.justification,
        )
        if plan.mine is None or plan.mine.id != chain.id:
            raise NoLongerPossible(
                f"{record.role_name} is no longer active from request `{chain.id}`."
            )
        with self._claim(chain, record.extends_end, record.new_end):
            return await self._renew(replace(plan, request_id=record.id))

    async def _renew(self, plan: Extension) -> Outcome:
        """More time on a running activation, as Entra allows it: it has no operation for
        that (selfExtend/adminExtend are for admin-made *assignments*, and a second
        activation of a role already active is refused with RoleAssignmentExists), so
        pimbot ends it and activates it again until the new end, a gap of seconds, with
        the extension's justification and ticket (the original ones unless new ones were
        given)."""
        requester, role, target = plan.requester, plan.role, plan.target
        now = self.clock.now()
        if plan.graph_start is not None and now < plan.graph_start + MIN_ACTIVE:
            raise _too_soon(role, plan.graph_start, extending=True)
        live = self._live_records(requester.person, target)
        await self.graph.deactivate(
            requester.user.id, target, "Ended by pimbot to activate again for longer"
        )
        start = now.replace(microsecond=0)  # Graph counts whole seconds from the start
        spec = ActivationSpec(
            requester.user.id,
            target,
            plan.new_end - start,
            plan.justification,
            plan.ticket,
            start=start,
        )
        try:
            result = await self.graph.activate(spec)
        except GraphError as exc:
            await self._renewal_failed(requester, target, live, exc.user_message)
            raise
        if result.status not in IN_EFFECT:
            await self._renewal_failed(requester, target, live, f"Entra answered {result.status}")
            raise PolicyViolation(
                f"{role.display_name} was ended to activate it again for longer, but Microsoft "
                f"Entra answered {result.status}: it is not active now."
            )
        end = result.end or plan.new_end
        for record in live:
            self.hooks.plan(
                self.store.update_request(
                    record.id,
                    end=end,
                    graph_request_id=result.id,
                    extensions=record.extensions + 1,
                )
            )
        await self._audit(
            AuditKind.EXTENDED,
            requester,
            target,
            record=plan.mine,
            graph_request_id=result.id,
            duration=plan.duration,
            detail="ended, then activated again until the new end (Entra cannot extend one)"
            + (f"; approved extension request {plan.request_id}" if plan.request_id else ""),
        )
        return Outcome(OutcomeKind.EXTENDED, requester, target, end=end, graph_request_id=result.id)

    async def _renewal_failed(
        self, requester: Requester, target: Target, live: list[ActivationRecord], why: str
    ) -> None:
        """The activation was ended and not activated again: the records and audit say so."""
        for record in live:
            ended = self.store.transition(
                record.id, frozenset({S.ACTIVE}), S.ENDED, end=self.clock.now(), error=why
            )
            if ended is not None:
                self.hooks.cancel(ended)
        await self._audit(
            AuditKind.ACTIVATION_FAILED,
            requester,
            target,
            record=live[0] if live else None,
            detail=f"ended to extend, then not activated again: {why}",
        )

    def _refuse_unratified(self, record: ActivationRecord | None) -> None:
        """A break-glass stands only once approvers ratify it: extending it before then
        would outlast the deadline meant to end it."""
        glass = self.store.get_break_glass(record.id) if record else None
        if glass is None or glass.state is GlassState.RATIFIED:
            return
        why = "is not ratified yet" if glass.state is GlassState.AWAITING else "is being ended"
        raise PolicyViolation(
            f"This break-glass activation {why}, so it can't be extended; once approvers "
            "ratify it, `/pim extend` works as for any activation."
        )

    def _refuse_if_requested(self, person: PersonKey, target: Target) -> None:
        """One live request per person, role and scope: a second points to the first
        rather than posting a second card."""
        for record in self.store.list_requests(requester=person, states=OPEN_STATES):
            if record.target.key == target.key:
                state = (
                    "waiting for approval"
                    if record.state is S.PENDING_APPROVAL
                    else ("being handled")
                )
                raise AlreadyRequested(
                    f"You already asked for {target.role.display_name} "
                    f"({target.scope.label}): request `{record.id}` is {state}.",
                    record.id,
                    cancellable=record.state in (S.REQUESTED, S.PENDING_APPROVAL),
                )

    def request_for(self, person: PersonKey, request_id: str) -> ActivationRecord:
        """The caller's own request by id; anyone else's, or none, is RequestNotFound."""
        record = self.store.get_request(request_id.strip())
        if record is None or record.requester != person:
            raise RequestNotFound(f"You have no request `{request_id}`.")
        return record

    async def deactivate_request(self, person: PersonKey, command: DeactivateRequest) -> Outcome:
        """The reminder's Deactivate: end the activation one of the user's requests made."""
        record = self.request_for(person, command.request_id)  # its scope, no other
        return await self._deactivate(person, record.role_id, record.scope, record)

    async def extend_request(self, person: PersonKey, command: ExtendRequest) -> Outcome:
        """The reminder's Extend: lengthen the activation one of the user's requests made,
        once from the end the reminder showed (`from_end`): the same Extend clicked twice,
        or replayed, extends once. Where approval is needed it asks, changing nothing."""
        record = self.request_for(person, command.request_id)
        start = command.from_end or record.end
        role = self.catalog.resolve(record.role_id)
        if (await self.policies.effective(role)).policy.approval_required:
            if start != record.end:
                raise NoLongerPossible(f"Request `{record.id}` was already extended.")
            return await self._extend(person, record.role_id, command.duration, record.scope)
        new_end = start + command.duration if start else None
        with self._claim(record, start, new_end):
            return await self._extend(person, record.role_id, command.duration, record.scope)

    @contextmanager
    def _claim(
        self, record: ActivationRecord | None, expected: datetime | None, new: datetime | None
    ) -> Iterator[None]:
        """Hold the record's end (compare-and-set in the store) while Graph is asked; put
        it back if that fails, so a retry can claim it again. No record: nothing to hold."""
        if record is None:
            yield
            return
        if record.state is not S.ACTIVE:
            state = record.state.value.replace("_", " ")
            raise NoLongerPossible(f"Request `{record.id}` is {state}: it is no longer active.")
        # A Deactivate's claim moves the end to now: a second click sees it passed.
        if record.end is not None and record.end <= self.clock.now():
            raise NoLongerPossible(f"Request `{record.id}` has ended or is being deactivated.")
        if self.store.claim_end(record.id, expected, new) is None:
            raise NoLongerPossible(f"Request `{record.id}` was already extended or deactivated.")
        try:
            yield
        except BaseException:
            self.store.claim_end(record.id, new, expected)  # a no-op once Graph changed it
            raise

    async def resume_request(self, person: PersonKey, command: ResumeRequest) -> Outcome:
        """Activate a stored request that waited for its requester to sign in again."""
        record = self.request_for(person, command.request_id)
        if record.state not in (S.REQUESTED, S.APPROVED):
            state = record.state.value.replace("_", " ")
            raise NotAuthorised(f"Request `{record.id}` is {state}: nothing to resume.")
        requester = await self.identity.resolve(person)
        return await self.activate_record(requester, Role(record.role_id, record.role_name), record)

    async def cancel(self, person: PersonKey, command: Cancel) -> Outcome:
        """Withdraw a pending request; only its requester can."""
        request_id = command.request_id
        record = self.store.get_request(request_id.strip())
        if record is None or record.requester != person:
            raise RequestNotFound(f"You have no request `{request_id}`. `/pim status` lists yours.")
        if record.state is S.PENDING_APPROVAL and record.graph_request_id and self.entra_approvals:
            await self.graph.cancel_request(record.graph_request_id)  # Entra holds it too
        updated = self.store.transition(
            record.id, frozenset({S.REQUESTED, S.PENDING_APPROVAL}), S.CANCELLED
        )
        if updated is None:
            now = self.store.get_request(record.id) or record
            state = now.state.value.replace("_", " ")
            raise NoLongerPossible(f"Request `{record.id}` is {state}: it can't be cancelled now.")
        requester = await self.identity.resolve(person)
        await self._audit(AuditKind.CANCELLED, requester, updated.target, record=updated)
        if updated.card:
            await self.notifier.update_approval_card(updated)
        return Outcome(OutcomeKind.CANCELLED, requester, updated.target, record=updated)

    async def activate_record(
        self, requester: Requester, role: Role, record: ActivationRecord
    ) -> Outcome:
        """Activate a stored request in Graph, once: the store claims it first. The target
        (role and scope) is the record's: what was checked, and approved, is activated."""
        self._claim_request(record)
        with self.leased(record.id), self.actors.acting_as(requester.person):
            return await self._activate_claimed(requester, role, record)

    def _claim_request(self, record: ActivationRecord) -> None:
        claimed = self.store.transition(
            record.id, frozenset({S.REQUESTED, S.APPROVED}), S.ACTIVATING
        )
        if claimed is None:
            raise NotAuthorised(f"Request `{record.id}` is already being handled.")

    def leased(self, request_id: str) -> AbstractContextManager[None]:
        """Held on `request_id` while working on it (replicas: bot/service/leases.py)."""
        return self.leases.hold(request_id) if self.leases else nullcontext()

    async def carry_on_requested(self, record: ActivationRecord) -> int:
        """A checked request its replica died before sending to Graph (leased while
        `requested`, so it needs no approval): claimed and activated here, once."""
        claimed = self.store.transition(record.id, frozenset({S.REQUESTED}), S.ACTIVATING)
        if claimed is None:
            return 0
        return await self.carry_on(claimed, again=False)

    async def carry_on(self, record: ActivationRecord, *, again: bool = True) -> int:
        """A request its replica died activating, taken over here (bot/service/leases.py)
        and not active in Graph: asked again, once. If the dead replica's request reached
        Graph after all, Graph refuses this one as a duplicate (RoleAssignmentExists):
        no second activation. The requester is told by DM (the command's reply died with
        the replica). Returns 1 when the request left `activating`, DUPLICATE when Graph
        refused it as a duplicate (the request is still `activating`). `again` False:
        nothing was sent to Graph before, so a duplicate is a role already active."""
        requester = await self.identity.resolve(record.requester)
        role = Role(record.role_id, record.role_name)
        try:
            with self.actors.acting_as(record.requester):
                outcome = await self._activate_claimed(requester, role, record, again=again)
        except GraphError as exc:
            if exc.code == "RoleAssignmentExists":
                return DUPLICATE  # the caller settles it from Graph
            log.warning("request %s carried on and refused (%s)", record.id, exc.code)
        except PimError:  # the record failed and says why (a sign-in needed: below)
            log.warning("request %s carried on and refused", record.id, exc_info=True)
        else:
            if outcome.kind is not OutcomeKind.ACTIVATED:
                return 1  # provisioning (followed, its DMs say) or held by Entra (a card)
        final = self.store.get_request(record.id) or record
        if final.state is S.ACTIVATING:  # its user must sign in: nobody to ask now
            why = f"pimbot stopped while activating {record.role_name}: please ask again."
            failed = self.store.transition(
                record.id, frozenset({S.ACTIVATING}), S.FAILED, error=why
            )
            if failed is None:
                return 0
            target = _target(role, failed)
            await self._audit(AuditKind.ACTIVATION_FAILED, requester, target, record=failed)
            final = failed
        await self.notifier.activation_settled(final)
        if final.card:  # approved, then its replica died: the card says how it ended
            await self.notifier.update_approval_card(final)
        return 1

    async def _activate_claimed(
        self, requester: Requester, role: Role, record: ActivationRecord, *, again: bool = False
    ) -> Outcome:
        """`again`: a request carried on from a dead replica, whose own POST may have
        reached Graph: a duplicate refused is raised as is (not refused to the user)."""
        target = _target(role, record)
        spec = ActivationSpec(
            requester.user.id,
            target,
            record.duration,
            record.justification,
            record.ticket,
            start=self.clock.now(),
        )
        try:
            result = await self.graph.activate(spec)
        except (SignInRequired, StepUpRequired) as exc:
            # The user's own token is needed: release the claim and keep the request.
            self.store.transition(record.id, frozenset({S.ACTIVATING}), record.state)
            exc.request_id = record.id
            raise
        except GraphError as exc:
            if exc.code == "RoleAssignmentExists" and not again:
                raise await self._already_active(requester, target, record) from None
            if exc.code == "RoleAssignmentExists":
                raise
            self.store.transition(
                record.id, frozenset({S.ACTIVATING}), S.FAILED, error=exc.user_message
            )
            await self._audit(
                AuditKind.ACTIVATION_FAILED,
                requester,
                target,
                record=record,
                detail=f"{exc.code}: {exc.user_message}",
            )
            raise
        if result.status == "PendingApproval":
            return await self._held_by_entra(requester, role, record, result.id)
        if result.status in REFUSED:
            text = f"Microsoft Entra answered {result.status}: nothing was activated."
            self.store.transition(record.id, frozenset({S.ACTIVATING}), S.FAILED, error=text)
            await self._audit(
                AuditKind.ACTIVATION_FAILED, requester, target, record=record, detail=text
            )
            raise GraphError(text, code=result.status, request_id=result.id)
        if result.status not in IN_EFFECT:
            # Accepted, not applied yet (Granted, PendingProvisioning, ...): never announced
            # as active. The sweep follows the request and says when it is in effect.
            waiting = self.store.update_request(record.id, graph_request_id=result.id)
            await self._accepted(waiting, provisioned=False)
            return Outcome(OutcomeKind.PROVISIONING, requester, target, waiting, None, result.id)
        start = result.start or self.clock.now()
        end = result.end or start + record.duration
        # Active, its reminders, its audit row and its readiness: kept together.
        with self.store.together():
            done = self.store.transition(
                record.id,
                frozenset({S.ACTIVATING}),
                S.ACTIVE,
                graph_request_id=result.id,
                start=start,
                end=end,
            )
            final = done or record
            reminders = self.hooks.keep(final)
            activated = self._kept_event(
                AuditKind.ACTIVATED, requester, target, final, stored=done is not None
            )
            progress = self.readiness.start(final, provisioned=True) if self.readiness else None
        self.hooks.wake(reminders)
        await self.audit.recorded([activated])
        if self.readiness is not None:
            await self.readiness.announce(final, progress)
        return Outcome(OutcomeKind.ACTIVATED, requester, target, final, end, result.id)

    async def _already_active(
        self, requester: Requester, target: Target, record: ActivationRecord
    ) -> AlreadyActive:
        """Graph refused the activation as a duplicate: 400 RoleAssignmentExists, "The
        Role assignment already exists" (https://github.com/Microsoft365DSC/Microsoft365DSC/
        issues/5532, an adminAssign refused so). Nothing changed in Entra: the request is
        refused, and one read, off the success path, says until when it is active."""
        error = await self.queries.already_active(requester, target)
        text = error.user_message
        self.store.transition(record.id, frozenset({S.ACTIVATING}), S.FAILED, error=text)
        await self._audit(AuditKind.REFUSED, requester, target, record=record, detail=text)
        return error

    async def _accepted(self, record: ActivationRecord, *, provisioned: bool) -> None:
        if self.readiness is not None:
            await self.readiness.accepted(record, provisioned=provisioned)

    def _entra_decides(self, match: EligibleRole) -> bool:
        """User mode, and pimbot.yml asks for no approval of its own: selfActivate goes to
        Entra at once, which activates it or, if its policy says so, holds it for its own
        approvers (PendingApproval). pimbot.yml's approval, when set, comes first."""
        return self.entra_approvals and CONFIG_APPROVAL not in match.approval_reasons

    async def _held_by_entra(
        self, requester: Requester, role: Role, record: ActivationRecord, graph_request_id: str
    ) -> Outcome:
        reason = "the Microsoft Entra PIM policy for this role requires approval"
        held = self.store.transition(
            record.id,
            frozenset({S.ACTIVATING}),
            S.PENDING_APPROVAL,
            approval_reason=reason,
            graph_request_id=graph_request_id,
        )
        final = held or record
        target = _target(role, final)
        await self._audit(AuditKind.PENDING_APPROVAL, requester, target, record=final)
        return await self._post_card(requester, target, final, (GRAPH_APPROVAL,))

    async def _hold_for_approval(
        self, requester: Requester, record: ActivationRecord, match: EligibleRole
    ) -> Outcome:
        reason = "; ".join(match.approval_reasons) or "the role's policy requires approval"
        held = self.store.transition(
            record.id, frozenset({S.REQUESTED}), S.PENDING_APPROVAL, approval_reason=reason
        )
        final = held or record
        await self._audit(AuditKind.PENDING_APPROVAL, requester, match.target, record=final)
        return await self._post_card(requester, match.target, final, match.approval_reasons)

    async def _post_card(
        self,
        requester: Requester,
        target: Target,
        final: ActivationRecord,
        reasons: tuple[str, ...],
    ) -> Outcome:
        expires_at = final.created_at + self.config.approval_timeout
        asked = await self._asked(target.role)
        card = await self.notifier.post_approval_card(final, expires_at, asked)
        if card is not None:
            final = self.store.update_request(final.id, card=card)
        return Outcome(
            OutcomeKind.PENDING_APPROVAL,
            requester,
            target,
            final,
            approval_reasons=reasons,
        )

    def _need_approvals_channel(self, role: Role) -> None:
        if not approvals_channel(self.config, self.catalog, role):
            raise PolicyViolation(
                f"{role.display_name} needs approval, but no approvals channel is configured. "
                "Ask your pimbot admin to set `channels.approvals` in pimbot.yml."
            )

    async def _asked(self, role: Role) -> Asked | None:
        """The live approvers the card mentions. A failure here (Graph, or the chat's
        directory answering 429) costs only the mentions: the card is still posted, and
        approvers are checked again at the click."""
        try:
            policy = (await self.policies.effective(role)).policy
            return await self._approvers.asked(policy)
        except Exception:  # noqa: BLE001 - a card without mentions beats no card
            log.warning("approvers of %s not read for the card", role.display_name, exc_info=True)
            return None

    def _live_records(self, person: PersonKey, target: Target) -> list[ActivationRecord]:
        records = self.store.list_requests(requester=person, states=frozenset({S.ACTIVE}))
        return [r for r in records if r.target.key == target.key]

    def _new_record(
        self,
        requester: Requester,
        target: Target,
        duration: timedelta,
        ticket: str | None,
        justification: str,
    ) -> ActivationRecord:
        now = self.clock.now()
        return ActivationRecord(
            id=new_request_id(),
            requester=requester.person,
            principal_id=requester.user.id,
            role_id=target.role.id,
            role_name=target.role.display_name,
            target_kind=target.kind,
            scope=target.scope,
            duration=duration,
            justification=justification,
            ticket=Ticket(ticket, self.config.ticket.system) if ticket else None,
            state=S.REQUESTED,
            created_at=now,
            updated_at=now,
        )

    async def _audit(
        self, kind: AuditKind, requester: Requester, target: Target, **details: Any
    ) -> None:
        """The requester's own action on `target`, recorded (`details`: as `_event`)."""
        await self.audit.record(self._event(kind, requester, target, **details))

    def _kept_event(
        self,
        kind: AuditKind,
        requester: Requester,
        target: Target,
        record: ActivationRecord,
        *,
        stored: bool = True,
    ) -> AuditEvent:
        """The audit row of `record` (`stored`: as just written), and its line, kept in
        the caller's transaction (inside `Store.together`); `self.audit.recorded` sends
        the line."""
        event = self._event(kind, requester, target, record=record, stored=stored)
        self.audit.keep(event)
        return event

    def _event(
        self,
        kind: AuditKind,
        requester: Requester,
        target: Target,
        *,
        record: ActivationRecord | None = None,
        graph_request_id: str | None = None,
        duration: timedelta | None = None,
        detail: str | None = None,
        attempted: tuple[str | None, str | None] = (None, None),
        stored: bool = False,
    ) -> AuditEvent:
        """The requester's own action on `target`. `attempted`: the ticket and justification
        of a refused request, as typed, since no record keeps them. `stored`: `record` is
        the row as the store just wrote it (added, or returned by a won transition)."""
        now = self.clock.now()
        # The stored record, not the caller's copy: a deactivation or an extension has
        # just moved its end, and the row says where the activation stands now.
        if record is not None and not stored:
            record = self.store.get_request(record.id) or record
        start, end, held = span(kind, record, now) if record else (None, None, None)
        ticket, justification = attempted
        return AuditEvent(
            at=now,
            kind=kind,
            person=requester.person,
            entra_user_id=requester.user.id,
            role_id=target.role.id,
            role_name=target.role.display_name,
            duration=duration or (record.duration if record else None),
            ticket=record.ticket.number if record and record.ticket else ticket or None,
            justification=record.justification if record else justification or None,
            graph_request_id=graph_request_id or (record.graph_request_id if record else None),
            request_id=record.id if record else None,
            detail=detail,
            target_kind=target.kind,
            scope=target.scope,
            subject=requester.person,
            start=start,
            end=end,
            held=held,
        )


def _reason_and_ticket(
    mine: ActivationRecord | None, ticket: str | None, justification: str
) -> tuple[str, str | None]:
    """An extension's justification and ticket number: the ones given, else the
    activation's own (issue 15: an extension reuses them when none is given)."""
    reason = justification.strip() or (
        mine.justification if mine else "Extended with pimbot by the requester"
    )
    if ticket and ticket.strip():
        return reason, ticket.strip()
    return reason, mine.ticket.number if mine and mine.ticket else None


def _target(role: Role, record: ActivationRecord) -> Target:
    """The record's target, named with the catalog's role (its alias) when we have it."""
    named = role if role.id == record.role_id else record.target.role
    return Target(record.target_kind, named, record.scope)


_ID_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # 32 letters: 5 random bits each


def new_request_id() -> str:
    """Short, unguessable, easy to type: `R-7KQ2M9XD`. One 40-bit draw from the OS's
    CSPRNG cut into eight 5-bit letters: as uniform as eight `secrets.choice` calls,
    without eight reads of os.urandom."""
    bits = secrets.randbits(40)
    return "R-" + "".join(_ID_ALPHABET[(bits >> (5 * i)) & 31] for i in range(8))


def _too_soon(role: Role, started: datetime, *, extending: bool = False) -> TooSoonToDeactivate:
    """Entra's floor: nothing ends an activation in its first five minutes (an extension
    ends it first)."""
    allowed = started + MIN_ACTIVE
    if extending:
        text = (
            f"Extending ends {role.display_name} and activates it again, and Microsoft "
            f"Entra doesn't let an activation end in its first 5 minutes: it can be "
            f"extended from {allowed:%H:%M} UTC."
        )
    else:
        text = (
            f"Microsoft Entra doesn't let an activation end in its first 5 minutes: "
            f"{role.display_name} can be deactivated from {allowed:%H:%M} UTC. Run the same "
            "command again then (or use the Deactivate button on its reminder)."
        )
    return TooSoonToDeactivate(text, allowed)
