"""Approval use cases: who may decide, deciding exactly once, expiry of undecided requests."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import datetime, timedelta
from typing import Protocol

from bot.domain.approvals import Approval, Counted, approvable
from bot.domain.audit import AuditKind, event_for
from bot.domain.durations import to_human
from bot.domain.models import Role
from bot.domain.people import PersonKey
from bot.domain.requests import ActivationRecord, RequestState
from bot.errors import (
    AlreadyActive,
    ExtensionNotApplied,
    GraphError,
    InputError,
    NotAuthorised,
    NotEligible,
    PimError,
    RequestNotFound,
)
from bot.service.activation import PimService
from bot.service.approvers import OWN_REQUEST, Approvers
from bot.service.deps import Deps
from bot.service.entra_held import DECIDED_IN_ENTRA, EntraHeld
from bot.service.identity import Requester
from bot.service.outcomes import Decision, Outcome, OutcomeKind
from bot.service.ports import Review
from bot.service.queries import waiting_for
from bot.service.signins import SignInRequired, StepUpRequired

S = RequestState
PENDING = frozenset({S.PENDING_APPROVAL})
WITHDRAWN = "the activation it extends has ended"


class SignInKeeper(Protocol):
    """Keeps a stored request until its requester has signed in again (user mode)."""

    async def keep(
        self, person: PersonKey, exc: SignInRequired | StepUpRequired, command: None = None
    ) -> object: ...


ENTRA_AUDIT = {
    S.APPROVED: AuditKind.APPROVED,
    S.DENIED: AuditKind.DENIED,
    S.CANCELLED: AuditKind.CANCELLED,
    S.EXPIRED: AuditKind.EXPIRED,
}


class ApprovalService:
    """Approve / deny / cancel / expire pending requests. Authorisation comes from the store
    and the effective policy, never from anything the click carried besides the request id."""

    def __init__(
        self,
        deps: Deps,
        activation: PimService,
        *,
        entra: EntraHeld | None = None,
        keeper: SignInKeeper | None = None,
    ) -> None:
        self._svc, self._activation = deps, activation
        self._approvers = Approvers(deps)
        # User mode: decisions on requests Entra holds go to Entra as the approver; a
        # requester who must sign in again is kept waiting, not failed.
        self.entra, self.keeper = entra, keeper

    async def check_approver(self, request_id: str, person: PersonKey) -> ActivationRecord:
        """The pending record, if `person` may decide it; else NotAuthorised (audited)."""
        record = self._load(request_id)
        if record.state is not S.PENDING_APPROVAL:
            raise _already_decided(record)
        why_not = await self._approvers.why_not(record, person)
        if why_not:
            await self._audit(AuditKind.DECISION_REFUSED, record, person, why_not)
            raise NotAuthorised(f"You can't decide this request, because {why_not}.")
        return record

    async def waiting_for(self, person: PersonKey) -> tuple[ActivationRecord, ...]:
        """What waits for `person`'s decision: pending, not yet expired, and theirs to
        decide by `check_approver`'s rule, and not approved by them already (four eyes).
        Requests Entra holds are left out: Entra, not pimbot, knows who may decide them."""
        now = self._svc.clock.now()
        pending = [
            r
            for r in self._svc.store.list_requests(states=PENDING)
            if self.expires_at(r) > now
            and not (self.entra and EntraHeld.holds(r))
            and not self._svc.store.tally(r.id, 1).approved_by(person)
        ]
        return await waiting_for(person, pending, self.may_decide)

    async def may_decide(self, record: ActivationRecord, person: PersonKey) -> bool:
        """Whether `person` is an approver of `record` (whatever its state now), by
        `check_approver`'s rule; one that can't be checked now (e.g. a sign-in is needed
        to know who they are) counts as no."""
        try:
            return await self._approvers.why_not(record, person) is None
        except PimError:
            return False

    async def approve(
        self, request_id: str, person: PersonKey, duration: timedelta | None = None
    ) -> Decision:
        """Count the approval; the one that completes the role's `approvals_required`
        approves the request (compare-and-set in the store) and runs the activation once,
        for the shortest duration any approver chose."""
        if self._held_by_entra(request_id):
            return await self._decide_in_entra(request_id, person, "Approve", None, duration)
        # The approval that completes the request leases it in the same breath (nothing
        # awaited between): if this replica dies before the activation, a survivor
        # carries it on (`carry_out`, bot/service/leases.py).
        with ExitStack() as lease:
            counted = await self._count(request_id, person, duration, decide=True, lease=lease)
            if counted.record.state is S.PENDING_APPROVAL:
                return await self._still_waiting(counted)
            return await self.carry_out(counted.record)

    async def carry_out(self, record: ActivationRecord) -> Decision:
        """Activate an approved request (or apply an approved extension), once, and
        announce the decision: after the approval that completed it, or on a survivor
        whose replica died after the approval."""
        with self._svc.actors.acting_as(record.requester):
            requester = await self._svc.identity.resolve(record.requester)
        role = Role(record.role_id, record.role_name)
        if (lapsed := await self._eligibility_lapsed(requester, role, record)) is not None:
            return await self._announce(Decision(lapsed, True, error=lapsed.error))
        # An extension request (issue 15) lengthens its activation; others activate.
        run = (
            self._activation.apply_extension if record.extends else self._activation.activate_record
        )
        try:
            outcome = await run(requester, role, record)
        except (SignInRequired, StepUpRequired) as exc:
            if self.keeper is None:
                raise
            await self.keeper.keep(record.requester, exc)
            kept = self._svc.store.get_request(record.id) or record  # still `approved`
            return await self._announce(Decision(kept, True))
        except (GraphError, ExtensionNotApplied) as exc:
            failed = self._svc.store.get_request(record.id) or record
            return await self._announce(Decision(failed, True, error=exc.user_message))
        except AlreadyActive:  # active meanwhile: Graph refused the duplicate
            failed = self._svc.store.get_request(record.id) or record
            why = f"{record.role_name} was already active for the requester: Microsoft Entra "
            why += "refused a second activation, so nothing changed"
            return await self._announce(Decision(failed, True, error=why))
        if outcome.kind is OutcomeKind.PENDING_APPROVAL:
            return await self._then_entra(record, outcome)
        return await self._announce(Decision(outcome.record or record, True, outcome))

    async def _count(
        self,
        request_id: str,
        person: PersonKey,
        duration: timedelta | None,
        *,
        decide: bool,
        lease: ExitStack | None = None,
    ) -> Counted:
        """Check the approver, then count their approval once (audited). `decide` False:
        Entra holds the request and decides it; the store only counts."""
        record = await self.check_approver(request_id, person)
        await self._refuse_expired(record)
        chosen = record.duration if duration is None else duration
        if not approvable(chosen, record.duration):
            raise InputError(
                f"You can approve `{record.id}` for {to_human(record.duration)} or for one of "
                "the shorter choices on the card, not for "
                f"{to_human(chosen)}."
            )
        required = await self._required(record)
        approval = Approval(person, self._svc.clock.now(), chosen)
        counted = self._svc.store.add_approval(record.id, approval, required, decide=decide)
        if counted is None:  # decided, expired or cancelled since the check above
            raise _already_decided(self._load(record.id))
        if not counted.new:
            raise AlreadyApproved(
                f"You have already approved `{record.id}`; it needs {required} different approvers."
            )
        approved = counted.record.state is not S.PENDING_APPROVAL
        if approved and lease is not None:
            lease.enter_context(self._activation.leased(record.id))
        kind = AuditKind.APPROVED if approved else AuditKind.APPROVAL_COUNTED
        await self._audit(kind, counted.record, person, _approval_detail(counted, chosen, record))
        return counted

    async def _still_waiting(self, counted: Counted) -> Decision:
        """More approvals needed: the card shows who approved so far; nothing in Graph."""
        record = counted.record
        if record.card:
            await self._svc.notifier.update_approval_card(record, counted.tally)
        return Decision(record, True, tally=counted.tally)

    async def _required(self, record: ActivationRecord) -> int:
        role = Role(record.role_id, record.role_name)
        return (await self._svc.policies.effective(role)).policy.approvals_required

    async def _refuse_expired(self, record: ActivationRecord) -> None:
        if self.expires_at(record) <= self._svc.clock.now():
            await self.expire_due()
            raise NotAuthorised(f"Request `{record.id}` expired before anyone decided it.")

    async def _eligibility_lapsed(
        self, requester: Requester, role: Role, record: ActivationRecord
    ) -> ActivationRecord | None:
        """Application mode's adminAssign needs no eligibility, so pimbot is the only guard:
        an eligibility that ended (at the request's scope) while the request waited is not
        activated; the record fails and says why. (A signed-in user's selfActivate is
        checked by Entra itself.)"""
        if self._activation.entra_approvals:
            return None
        try:
            # Fresh, not the kept read: the request may have waited for hours.
            await self._svc.queries.eligible_for(requester, role, record.scope.id, fresh=True)
        except (NotEligible, InputError):
            why = (
                f"{record.role_name} ({record.scope.label}) is no longer an eligible role of "
                "the requester in Microsoft Entra: the eligibility ended while the request "
                "waited, so nothing was activated"
            )
            failed = self._svc.store.transition(
                record.id, frozenset({S.APPROVED}), S.FAILED, error=why
            )
            event = event_for(
                AuditKind.ACTIVATION_FAILED,
                failed or record,
                at=self._svc.clock.now(),
                actor=record.requester,
                detail=why,
            )
            await self._svc.audit.record(event)
            return failed or record
        return None

    async def _then_entra(self, approved: ActivationRecord, outcome: Outcome) -> Decision:
        """Approved here, and Entra's own policy holds it for its approvers too (user mode):
        the first card shows the Slack approval, a new card waits for Entra's."""
        notifier = self._svc.notifier
        await notifier.approved_then_entra(approved)
        if approved.card:
            await notifier.update_approval_card(approved)
        return Decision(outcome.record or approved, True, outcome)

    async def deny(self, request_id: str, person: PersonKey, reason: str) -> Decision:
        """Record the denial with its reason."""
        if self._held_by_entra(request_id):
            return await self._decide_in_entra(request_id, person, "Deny", reason)
        record = await self._claim(request_id, person, S.DENIED, reason)
        return await self._announce(Decision(record, False))

    async def expire_due(self) -> list[ActivationRecord]:
        """Expire pending requests older than `approval_timeout`; return those expired."""
        now = self._svc.clock.now()
        timeout = self._svc.config.approval_timeout
        expired = []
        for record in self._svc.store.list_requests(states=PENDING):
            if record.created_at + timeout <= now:
                done = self._svc.store.transition(record.id, PENDING, S.EXPIRED)
                if done is not None:
                    if self.entra is not None:
                        await self.entra.withdraw(done)
                    await self._audit(AuditKind.EXPIRED, done, None, "no decision in time")
                    await self._announce(Decision(done, False))
                    expired.append(done)
        return expired

    async def withdraw_orphaned_extensions(self) -> list[ActivationRecord]:
        """Extension requests (issue 15) whose activation has ended while they waited:
        withdrawn, so no approver is asked about an activation that is gone (approving
        one would change nothing) and no new request of the role is held up by one."""
        withdrawn = []
        for record in self._svc.store.list_requests(states=PENDING):
            if record.extends is None or self._extends_a_live_one(record):
                continue
            done = self._svc.store.transition(record.id, PENDING, S.CANCELLED, error=WITHDRAWN)
            if done is not None:
                await self._audit(AuditKind.CANCELLED, done, None, WITHDRAWN)
                await self._announce(Decision(done, False))
                withdrawn.append(done)
        return withdrawn

    def _extends_a_live_one(self, record: ActivationRecord) -> bool:
        chain = self._svc.store.get_request(record.extends or "")
        return chain is not None and chain.state is S.ACTIVE

    async def reconcile_entra_held(self) -> int:
        """Requests Entra holds that were decided outside Slack (the Entra portal, another
        tool): record the outcome, activate or close, redraw the card, tell the requester."""
        if self.entra is None:
            return 0
        settled = 0
        for record in self._svc.store.list_requests(states=PENDING):
            if EntraHeld.holds(record):
                settled += await self._settle_from_entra(
                    record, await self.entra.settled_as(record)
                )
        return settled

    async def _settle_from_entra(self, record: ActivationRecord, new: RequestState | None) -> int:
        if new is None:
            return 0  # still pending in Entra (or no longer listed)
        now = self._svc.clock.now()
        won = self._svc.store.transition(
            record.id, PENDING, new, decided_at=now, decision_reason=DECIDED_IN_ENTRA
        )
        if won is None:
            return 0
        await self._audit(ENTRA_AUDIT[new], won, None, DECIDED_IN_ENTRA)
        if new is S.APPROVED:
            outcome = await self._entra_activated(won)
            await self._announce(Decision(outcome.record or won, True, outcome))
        else:
            await self._announce(Decision(won, False))
        return 1

    async def _announce(self, decision: Decision) -> Decision:
        """Tell the requester first, then redraw the card: each is delivered (and retried)
        on its own, and the decision, already stored, stands whatever the chat does."""
        notifier = self._svc.notifier
        await notifier.notify_decision(decision.record, decision.error)
        if decision.record.card:
            # Who approved, for the card; how many were required matters only while pending.
            tally = self._svc.store.tally(decision.record.id, 1)
            await notifier.update_approval_card(decision.record, tally)
        return decision

    def expires_at(self, record: ActivationRecord) -> datetime:
        return record.created_at + self._svc.config.approval_timeout

    async def _entra_activated(self, record: ActivationRecord) -> Outcome:
        if self.entra is None:
            raise RuntimeError("only requests Entra holds are activated by Entra")
        return await self.entra.activated(record)

    def _held_by_entra(self, request_id: str) -> bool:
        record = self._svc.store.get_request(request_id)
        return self.entra is not None and record is not None and EntraHeld.holds(record)

    async def _decide_in_entra(
        self,
        request_id: str,
        person: PersonKey,
        review: Review,
        reason: str | None,
        duration: timedelta | None = None,
    ) -> Decision:
        """PIM-native: Entra decides who may approve; the bot sends the click as the
        approver (who must be signed in) and records what Entra accepted. Entra lets its
        first approver decide, so for a role needing N approvals pimbot counts the first
        N-1 itself and sends only the Nth to Entra. (Entra approves the duration asked:
        a shorter one is refused here, since Entra's approval cannot change it.)"""
        record = self._load(request_id)
        if person == record.requester:
            await self._audit(AuditKind.DECISION_REFUSED, record, person, OWN_REQUEST)
            raise NotAuthorised(f"You can't decide this request, because {OWN_REQUEST}.")
        if duration not in (None, record.duration):
            raise InputError("Microsoft Entra approves this request for the time asked.")
        # `decided_by` set: pimbot's own approval (`approval: required`) already had its
        # N approvers before Entra held the request; Entra's step is Entra's own.
        if review == "Approve" and record.decided_by is None and await self._required(record) > 1:
            counted = await self._count(request_id, person, None, decide=False)
            if len(counted.tally.approvals) < counted.tally.required:
                return await self._still_waiting(counted)
            if len(counted.tally.approvals) > counted.tally.required:
                raise _already_decided(self._load(request_id))
        new = S.APPROVED if review == "Approve" else S.DENIED
        won = await self._record_decision(record, person, new, reason, review)
        if new is S.DENIED:
            return await self._announce(Decision(won, False))
        outcome = await self._entra_activated(won)
        return await self._announce(Decision(outcome.record or won, True, outcome))

    async def _claim(
        self, request_id: str, person: PersonKey, new: RequestState, reason: str | None
    ) -> ActivationRecord:
        record = await self.check_approver(request_id, person)
        return await self._record_decision(record, person, new, reason)

    async def _record_decision(
        self,
        record: ActivationRecord,
        person: PersonKey,
        new: RequestState,
        reason: str | None,
        entra_review: Review | None = None,
    ) -> ActivationRecord:
        """Refuse an expired request; send the decision to Entra when it holds the request;
        then the compare-and-set that makes exactly one decision win, and its audit."""
        await self._refuse_expired(record)
        if entra_review is not None and self.entra is not None:
            await self.entra.send(record, person, entra_review, reason)
        won = self._svc.store.transition(
            record.id,
            PENDING,
            new,
            decided_by=person,
            decided_at=self._svc.clock.now(),
            decision_reason=reason,
        )
        if won is None:  # another approver's click got there first
            raise _already_decided(self._load(record.id))
        kind = AuditKind.APPROVED if new is S.APPROVED else AuditKind.DENIED
        await self._audit(kind, won, person, reason)
        return won

    def _load(self, request_id: str) -> ActivationRecord:
        record = self._svc.store.get_request(request_id)
        if record is None:
            raise RequestNotFound(f"There is no request `{request_id}`.")
        return record

    async def _audit(
        self,
        kind: AuditKind,
        record: ActivationRecord,
        actor: PersonKey | None,
        detail: str | None,
    ) -> None:
        now = self._svc.clock.now()
        await self._svc.audit.record(event_for(kind, record, at=now, actor=actor, detail=detail))


class AlreadyDecided(NotAuthorised):
    """Someone decided the request first (or it is no longer waiting for a decision);
    who and when are facts the front end shows its own way (a mention in Slack)."""

    def __init__(
        self,
        request_id: str,
        state: str,
        decided_by: PersonKey | None,
        decided_at: datetime | None,
    ) -> None:
        if decided_by:
            when = f" at {decided_at:%H:%M} UTC" if decided_at else ""
            text = f"Request `{request_id}` was already {state} by another approver{when}."
        else:
            where = state.replace("_", " ")
            text = f"Request `{request_id}` is {where}; there is nothing to decide."
        super().__init__(text)
        self.request_id, self.state = request_id, state
        self.decided_by, self.decided_at = decided_by, decided_at


class AlreadyApproved(NotAuthorised):
    """The same approver clicked Approve again: counted once, and told so."""


def _approval_detail(counted: Counted, chosen: timedelta, record: ActivationRecord) -> str | None:
    """The audit's words: which approval of how many, and for how long when shorter
    (None: the one approval needed, for the time asked)."""
    tally = counted.tally
    said = f"approval {len(tally.approvals)} of {tally.required}" if tally.required > 1 else ""
    if chosen < record.duration:
        shorter = f"approved for {to_human(chosen)} of the {to_human(record.duration)} asked"
        said = f"{said}; {shorter}" if said else shorter
    return said or None


def _already_decided(record: ActivationRecord) -> AlreadyDecided:
    """Who decided is a fact for the front end to show its own way (a mention in Slack)."""
    return AlreadyDecided(record.id, record.state.value, record.decided_by, record.decided_at)
