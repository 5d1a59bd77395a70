"""Break-glass use cases: activate at once in an emergency; approvers ratify or revoke.

Ratify and Revoke are in `bot.service.glass_decisions`; what ends a break-glass (revoked,
or not ratified in time) in `bot.service.glass_end`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from bot.domain.audit import AuditEvent, AuditKind, event_for
from bot.domain.breakglass import DAY, BreakGlassRecord, GlassState, uses_left
from bot.domain.command_types import BreakGlass
from bot.domain.durations import to_human
from bot.domain.models import ActivationSpec, Role, RolePolicy, ScheduleRequest, Ticket
from bot.domain.people import PersonKey
from bot.domain.policy import check_request
from bot.domain.requests import IN_EFFECT, OPEN_STATES, REFUSED, ActivationRecord, RequestState
from bot.domain.targets import Target, split_scope
from bot.domain.validation import check_justification, check_ticket
from bot.errors import (
    AlreadyRequested,
    BreakGlassRefused,
    GraphError,
    PolicyViolation,
)
from bot.service.activation import new_request_id
from bot.service.deps import Deps
from bot.service.glass_decisions import GlassDecisions
from bot.service.glass_end import GlassEnder
from bot.service.identity import Requester
from bot.service.outcomes import EligibleRole, GlassDecision, GlassOutcome
from bot.service.policies import approvals_channel
from bot.service.ports import ActivationHooks
from bot.service.signins import SignInRequired, StepUpRequired
from bot.settings import BreakGlassConfig

S, G = RequestState, GlassState
BREAK_GLASS_REASON = "break-glass: activated at once, to be ratified by an approver"


class BreakGlassService:
    """`/pim breakglass`, Ratify and Revoke. Who may ratify or revoke is decided like who
    may approve (`Approvers`, from the store and the effective policy), never the
    requester; every step is audited."""

    def __init__(self, deps: Deps, hooks: ActivationHooks, *, user_mode: bool = False) -> None:
        self._d, self._hooks, self._user_mode = deps, hooks, user_mode
        self.ender = GlassEnder(deps, hooks)
        self._decisions = GlassDecisions(deps, self.ender)

    async def break_glass(self, person: PersonKey, command: BreakGlass) -> GlassOutcome:
        """Check the role allows break-glass, the daily limit and the rules Entra applies
        to the action pimbot sends; activate at once; alert the approvers."""
        requester = await self._d.identity.resolve(person)
        role_text, hint = split_scope(command.role)
        role = self._d.catalog.resolve(role_text)
        try:
            rules = self._rules(role)
        except BreakGlassRefused as exc:
            await self._refused(requester, role, None, exc.user_message)
            raise
        match = await self._d.queries.eligible_for(requester, role, hint)
        try:
            await self._check(person, role, match, rules, command)
        except PolicyViolation as exc:
            await self._refused(requester, role, match.target, exc.user_message)
            raise
        await self._d.queries.refuse_if_active(requester, match.target)
        self._refuse_if_requested(person, match.target)
        record = self._new_record(requester, match.target, command)
        self._d.store.add_request(record)
        # The deadline is stored before Graph is asked: a crash right after the activation
        # still leaves it to be ratified or ended by the sweep.
        self._d.store.add_break_glass(_deadline(record, rules, record.created_at))
        record = await self._activate(requester, record)
        return await self._open(requester, record, rules, match.policy)

    async def ratify(self, person: PersonKey, request_id: str) -> GlassDecision:
        """One approver's ratification (see GlassDecisions)."""
        return await self._decisions.ratify(person, request_id)

    async def revoke(self, person: PersonKey, request_id: str) -> GlassDecision:
        """An approver ends the break-glass (see GlassDecisions)."""
        return await self._decisions.revoke(person, request_id)

    def _rules(self, role: Role) -> BreakGlassConfig:
        for cfg in self._d.config.roles.values():
            if cfg.break_glass is not None and self._d.catalog.resolve(cfg.role).id == role.id:
                return cfg.break_glass
        raise BreakGlassRefused(
            f"{role.display_name} can't be break-glassed: pimbot.yml gives it no "
            "`break_glass` settings. Use `/pim activate` (and ask an approver if it needs one)."
        )

    async def _check(
        self,
        person: PersonKey,
        role: Role,
        match: EligibleRole,
        rules: BreakGlassConfig,
        command: BreakGlass,
    ) -> None:
        self._check_limit(person, rules)
        if not match.policy.approvers:
            raise BreakGlassRefused(
                f"{role.display_name} has no approvers to ratify a break-glass: ask your "
                "pimbot admin to name them (`roles.<alias>.approvers` in pimbot.yml)."
            )
        if not approvals_channel(self._d.config, self._d.catalog, role):
            raise BreakGlassRefused(
                "Break-glass alerts go to the approvals channel, and none is configured "
                "(`channels.approvals`, or the role's `approvals_channel`, in pimbot.yml)."
            )
        policy = await self._entra_rules(role, match.policy)
        check_request(
            policy,
            role_name=role.display_name,
            duration=command.duration,
            ticket=command.ticket,
            justification=command.justification,
            ticket_cfg=self._d.config.ticket,
            justification_cfg=self._d.config.justification,
        )

    def _check_limit(self, person: PersonKey, rules: BreakGlassConfig) -> None:
        """`max_per_day` in any rolling 24 hours, counting every break-glass the person
        made (whatever the role) from the store."""
        now, store = self._d.clock.now(), self._d.store
        used = [
            g
            for g in store.list_break_glass(requester=person, since=now - DAY)
            if (r := store.get_request(g.request_id)) is not None and r.state is not S.FAILED
        ]
        count, next_at = uses_left([g.started_at for g in used], rules.max_per_day, now)
        if next_at is not None:
            raise BreakGlassRefused(
                f"You have used break-glass {count} times in the last 24 hours, the most "
                f"allowed ({rules.max_per_day}): the next is possible from "
                f"{next_at:%Y-%m-%d %H:%M} UTC. Use `/pim activate` meanwhile."
            )

    async def _entra_rules(self, role: Role, merged: RolePolicy) -> RolePolicy:
        """The rules for a break-glass: the role's maximum and the justification rules
        always; a ticket only if Entra requires one for the action pimbot sends. Each PIM
        rule targets a caller, Admin or EndUser (unifiedRoleManagementPolicyRuleTarget
        `caller`, https://learn.microsoft.com/en-us/graph/api/resources/
        unifiedrolemanagementpolicyruletarget): an application's adminAssign obeys the
        *_Admin_Assignment rules, a signed-in user's selfActivate the *_EndUser_Assignment
        ones, approval included, which break-glass cannot bypass."""
        if not self._user_mode:
            ticket = "Ticketing" in merged.admin_rules
            return replace(merged, ticket_required=ticket, justification_required=True)
        graph = await self._graph_policy(role)
        if graph is not None and graph.approval_required:
            raise BreakGlassRefused(_ENTRA_APPROVAL.format(role=role.display_name))
        ticket = graph.ticket_required if graph is not None else False
        return replace(merged, ticket_required=ticket, justification_required=True)

    async def _graph_policy(self, role: Role) -> RolePolicy | None:
        """The role's own PIM policy; None where a signed-in user may not read it (403):
        Entra then applies it to the selfActivate itself."""
        try:
            return await self._d.graph.get_policy(role.id)
        except GraphError as exc:
            if exc.status == 403:
                return None
            raise

    def _refuse_if_requested(self, person: PersonKey, target: Target) -> None:
        for record in self._d.store.list_requests(requester=person, states=OPEN_STATES):
            if record.target.key == target.key:
                raise AlreadyRequested(
                    f"You already asked for {target.role.display_name} ({target.scope.label}): "
                    f"request `{record.id}` is still open. Cancel it first to break glass.",
                    record.id,
                    cancellable=record.state in (S.REQUESTED, S.PENDING_APPROVAL),
                )

    def _new_record(
        self, requester: Requester, target: Target, command: BreakGlass
    ) -> ActivationRecord:
        config, now = self._d.config, self._d.clock.now()
        ticket = check_ticket(command.ticket, config.ticket) if command.ticket else None
        return ActivationRecord(
            id=new_request_id(),
            requester=requester.person,
            principal_id=requester.user.id,
            role_id=target.role.id,
            role_name=target.role.display_name,
            target_kind=target.kind,
            scope=target.scope,
            duration=command.duration,
            justification=check_justification(command.justification, config.justification),
            ticket=Ticket(ticket, config.ticket.system) if ticket else None,
            state=S.ACTIVATING,
            created_at=now,
            updated_at=now,
            approval_reason=BREAK_GLASS_REASON,
        )

    async def _activate(self, requester: Requester, record: ActivationRecord) -> ActivationRecord:
        """Ask Graph once. Anything but an activation (in effect, or accepted and being
        applied) fails the record and is refused: Entra holding it for approval too."""
        spec = ActivationSpec(
            requester.user.id,
            record.target,
            record.duration,
            record.justification,
            record.ticket,
            start=self._d.clock.now(),
        )
        try:
            with self._d.actors.acting_as(requester.person):
                result = await self._d.graph.activate(spec)
        except (SignInRequired, StepUpRequired, GraphError) as exc:
            await self._failed(record, exc.user_message)
            raise
        if result.status not in IN_EFFECT:
            return await self._not_in_effect(requester, record, result)
        start = result.start or self._d.clock.now()
        done = self._d.store.transition(
            record.id,
            frozenset({S.ACTIVATING}),
            S.ACTIVE,
            graph_request_id=result.id,
            start=start,
            end=result.end or start + record.duration,
        )
        final = done or record
        self._hooks.plan(final)
        await self._audit(AuditKind.ACTIVATED, final, requester.person)
        return final

    async def _not_in_effect(
        self, requester: Requester, record: ActivationRecord, result: ScheduleRequest
    ) -> ActivationRecord:
        """Entra holding it for approval is withdrawn and refused; a refusal fails it;
        accepted and not applied yet, the sweep follows it, as for any activation."""
        if result.status == "PendingApproval":
            with self._d.actors.acting_as(requester.person):
                await self._d.graph.cancel_request(result.id)
            why = _ENTRA_APPROVAL.format(role=record.role_name)
            await self._failed(record, why)
            raise BreakGlassRefused(why)
        if result.status in REFUSED:
            why = f"Microsoft Entra answered {result.status}: nothing was activated."
            await self._failed(record, why)
            raise GraphError(why, code=result.status, request_id=result.id)
        return self._d.store.update_request(record.id, graph_request_id=result.id)

    async def _open(
        self,
        requester: Requester,
        record: ActivationRecord,
        rules: BreakGlassConfig,
        policy: RolePolicy,
    ) -> GlassOutcome:
        """Count the ratification deadline from the activation's start, audit it, and
        raise the alert."""
        started = _deadline(record, rules, record.start or self._d.clock.now())
        glass = self._d.store.update_break_glass(
            record.id, started_at=started.started_at, ratify_by=started.ratify_by
        )
        detail = (
            f"{rules.ratifications_required} ratification(s) needed within "
            f"{to_human(rules.ratify_within)}, by {glass.ratify_by:%H:%M} UTC, or it is ended"
        )
        await self._audit(AuditKind.BREAK_GLASS, record, requester.person, detail)
        alert = await self._d.notifier.post_glass_alert(record, glass, policy.approvers)
        if alert is not None:
            glass = self._d.store.update_break_glass(record.id, alert=alert)
        return GlassOutcome(requester, record.target, record, glass, len(policy.approvers))

    async def _failed(self, record: ActivationRecord, why: str) -> None:
        """Nothing was activated: the record fails, and its deadline is closed unannounced
        (nothing to ratify or end; it does not count against the daily limit)."""
        failed = self._d.store.transition(record.id, frozenset({S.ACTIVATING}), S.FAILED, error=why)
        now = self._d.clock.now()
        self._d.store.settle_break_glass(
            record.id, frozenset({G.AWAITING}), G.LAPSED, settled_at=now, ended_at=now, error=why
        )
        await self._audit(AuditKind.ACTIVATION_FAILED, failed or record, record.requester, why)

    async def _refused(
        self, requester: Requester, role: Role, target: Target | None, why: str
    ) -> None:
        """A refused break-glass, audited; `target` None: refused before any eligibility
        (so any scope) was looked up."""
        event = AuditEvent(
            at=self._d.clock.now(),
            kind=AuditKind.BREAK_GLASS_REFUSED,
            person=requester.person,
            subject=requester.person,
            entra_user_id=requester.user.id,
            role_id=role.id,
            role_name=role.display_name,
            detail=why,
            target_kind=target.kind if target else None,
            scope=target.scope if target else None,
        )
        await self._d.audit.record(event)

    async def _audit(
        self, kind: AuditKind, record: ActivationRecord, actor: PersonKey, detail: str | None = None
    ) -> None:
        now = self._d.clock.now()
        await self._d.audit.record(event_for(kind, record, at=now, actor=actor, detail=detail))


_ENTRA_APPROVAL = (
    "Microsoft Entra's own PIM policy for {role} requires approval of every activation, and "
    "pimbot acts as you here (signed-in-user mode): break-glass cannot bypass Entra. Use "
    "`/pim activate` and ask an approver."
)


def _deadline(
    record: ActivationRecord, rules: BreakGlassConfig, start: datetime
) -> BreakGlassRecord:
    """The break-glass of `record` awaiting ratification, its deadline counted from `start`."""
    return BreakGlassRecord(
        request_id=record.id,
        requester=record.requester,
        started_at=start,
        ratify_by=start + rules.ratify_within,
        required=rules.ratifications_required,
        state=G.AWAITING,
    )
