"""Approval use cases: who may decide, deciding exactly once, expiry of undecided requests."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.domain.audit import AuditKind, event_for
from bot.domain.models import ApproverKind, Role, RolePolicy
from bot.domain.requests import ActivationRecord, RequestState
from bot.errors import GraphError, NotAuthorised, PimError, RequestNotFound
from bot.identity import Requester
from bot.service import Outcome, PimService
from bot.signin.approvals import NotAuthorisedGraph, PimApprovals, Review
from bot.signin.errors import SignInRequired, StepUpRequired

log = logging.getLogger(__name__)
S = RequestState
PENDING = frozenset({S.PENDING_APPROVAL})


@dataclass(frozen=True, slots=True)
class Decision:
    """What a decision did: the record as stored, and the activation's result on approval."""

    record: ActivationRecord
    approved: bool
    outcome: Outcome | None = None
    error: str | None = None


class SignInKeeper(Protocol):
    """Keeps a stored request until its requester has signed in again (user mode)."""

    async def wait_for_signin(
        self, slack_user_id: str, exc: SignInRequired | StepUpRequired
    ) -> object: ...


OWN_REQUEST = "it is your own request — someone else has to approve it"


class ApprovalService:
    """Approve / deny / cancel / expire pending requests. Authorisation comes from the store
    and the effective policy, never from anything the click carried besides the request id."""

    def __init__(self, service: PimService) -> None:
        self._svc = service
        # User mode (wiring sets both): decisions on requests Entra holds go to Entra as
        # the approver; a requester who must sign in again is kept waiting, not failed.
        self.entra: PimApprovals | None = None
        self.keeper: SignInKeeper | None = None

    async def check_approver(self, request_id: str, slack_user_id: str) -> ActivationRecord:
        """The pending record, if `slack_user_id` may decide it; else NotAuthorised (audited)."""
        record = self._load(request_id)
        if record.state is not S.PENDING_APPROVAL:
            raise NotAuthorised(_already_decided(record))
        with self._svc.actors.acting_as(slack_user_id):
            why_not = await self._why_not_approver(record, slack_user_id)
        if why_not:
            await self._audit(AuditKind.DECISION_REFUSED, record, slack_user_id, why_not)
            raise NotAuthorised(f"You can't decide this request, because {why_not}.")
        return record

    async def approve(self, request_id: str, slack_user_id: str) -> Decision:
        """Record the approval (compare-and-set) and run the activation once."""
        if self._held_by_entra(request_id):
            return await self._decide_in_entra(request_id, slack_user_id, "Approve", None)
        record = await self._claim(request_id, slack_user_id, S.APPROVED, None)
        with self._svc.actors.acting_as(record.slack_user_id):
            requester = await self._svc.identity.resolve(record.slack_user_id)
        role = Role(record.role_id, record.role_name)
        try:
            outcome = await self._svc.activate_record(requester, role, record)
        except (SignInRequired, StepUpRequired) as exc:
            if self.keeper is None:
                raise
            await self.keeper.wait_for_signin(record.slack_user_id, exc)
            kept = self._svc.store.get_request(record.id) or record  # still `approved`
            return await self._announce(Decision(kept, True))
        except GraphError as exc:
            failed = self._svc.store.get_request(record.id) or record
            return await self._announce(Decision(failed, True, error=exc.user_message))
        return await self._announce(Decision(outcome.record or record, True, outcome))

    async def deny(self, request_id: str, slack_user_id: str, reason: str) -> Decision:
        """Record the denial with its reason."""
        if self._held_by_entra(request_id):
            return await self._decide_in_entra(request_id, slack_user_id, "Deny", reason)
        record = await self._claim(request_id, slack_user_id, S.DENIED, reason)
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
                    await self._withdraw_in_entra(done)
                    await self._audit(AuditKind.EXPIRED, done, None, "no decision in time")
                    await self._announce(Decision(done, False))
                    expired.append(done)
        return expired

    async def _withdraw_in_entra(self, record: ActivationRecord) -> None:
        """An expired request Entra still holds is cancelled there as its requester, so
        nobody approves it in the portal later; if that fails, Entra's own expiry ends it."""
        if self.entra is None or record.graph_request_id is None:
            return
        try:
            with self._svc.actors.acting_as(record.slack_user_id):
                await self._svc.graph.cancel_request(record.graph_request_id)
        except PimError as exc:
            log.warning("expired %s is still pending in Entra (%s)", record.id, type(exc).__name__)

    async def _announce(self, decision: Decision) -> Decision:
        """Redraw the card and tell the requester; the decision stands either way."""
        notifier = self._svc.notifier
        if decision.record.approval_message_ts:
            await notifier.update_approval_card(decision.record)
        await notifier.notify_decision(decision.record, decision.error)
        return decision

    def attach_card(self, request_id: str, channel: str, ts: str) -> ActivationRecord:
        """Remember where the request's card is, so decisions can update it in place."""
        return self._svc.store.update_request(
            request_id, approval_channel=channel, approval_message_ts=ts
        )

    def expires_at(self, record: ActivationRecord) -> datetime:
        return record.created_at + self._svc.config.approval_timeout

    def _held_by_entra(self, request_id: str) -> bool:
        record = self._svc.store.get_request(request_id)
        return (
            self.entra is not None
            and record is not None
            and record.state is S.PENDING_APPROVAL
            and record.graph_request_id is not None
        )

    async def _decide_in_entra(
        self, request_id: str, slack_user_id: str, review: Review, reason: str | None
    ) -> Decision:
        """PIM-native: Entra decides who may approve; the bot sends the click as the
        approver (who must be signed in) and records what Entra accepted."""
        record = self._load(request_id)
        if slack_user_id == record.slack_user_id:
            await self._audit(AuditKind.DECISION_REFUSED, record, slack_user_id, OWN_REQUEST)
            raise NotAuthorised(f"You can't decide this request, because {OWN_REQUEST}.")
        new = S.APPROVED if review == "Approve" else S.DENIED
        won = await self._record_decision(record, slack_user_id, new, reason, review)
        if new is S.DENIED:
            return await self._announce(Decision(won, False))
        outcome = await self._svc.entra_activated(won)
        return await self._announce(Decision(outcome.record or won, True, outcome))

    async def _send_to_entra(
        self, record: ActivationRecord, slack_user_id: str, review: Review, reason: str | None
    ) -> None:
        entra, graph_request_id = self.entra, record.graph_request_id
        if entra is None or graph_request_id is None:
            raise RuntimeError("only requests Entra holds are decided in Entra")
        verb = "Approved" if review == "Approve" else "Denied"
        justification = reason or f"{verb} in Slack (pimbot request {record.id})"
        try:
            approval_id = await entra.approval_id_of(slack_user_id, graph_request_id)
            await entra.decide_as(
                slack_user_id, approval_id or graph_request_id, None, review, justification
            )
        except (NotAuthorised, NotAuthorisedGraph) as exc:
            await self._audit(AuditKind.DECISION_REFUSED, record, slack_user_id, exc.user_message)
            raise NotAuthorised(exc.user_message) from None
        except GraphError as exc:
            if exc.status == 409:
                raise NotAuthorised(_already_decided(self._load(record.id))) from None
            raise

    async def _claim(
        self, request_id: str, slack_user_id: str, new: RequestState, reason: str | None
    ) -> ActivationRecord:
        record = await self.check_approver(request_id, slack_user_id)
        return await self._record_decision(record, slack_user_id, new, reason)

    async def _record_decision(
        self,
        record: ActivationRecord,
        slack_user_id: str,
        new: RequestState,
        reason: str | None,
        entra_review: Review | None = None,
    ) -> ActivationRecord:
        """Refuse an expired request; send the decision to Entra when it holds the request;
        then the compare-and-set that makes exactly one decision win, and its audit."""
        if self.expires_at(record) <= self._svc.clock.now():
            await self.expire_due()
            raise NotAuthorised(f"Request `{record.id}` expired before anyone decided it.")
        if entra_review is not None:
            await self._send_to_entra(record, slack_user_id, entra_review, reason)
        won = self._svc.store.transition(
            record.id,
            PENDING,
            new,
            decided_by=slack_user_id,
            decided_at=self._svc.clock.now(),
            decision_reason=reason,
        )
        if won is None:  # another approver's click got there first
            raise NotAuthorised(_already_decided(self._load(record.id)))
        kind = AuditKind.APPROVED if new is S.APPROVED else AuditKind.DENIED
        await self._audit(kind, won, slack_user_id, reason)
        return won

    async def _why_not_approver(self, record: ActivationRecord, slack_user_id: str) -> str | None:
        if slack_user_id == record.slack_user_id:
            return OWN_REQUEST
        policy = (await self._svc.policies.effective(Role(record.role_id, record.role_name))).policy
        if not policy.approvers:
            return f"no approvers are configured for {record.role_name}"
        if await self._is_approver(policy, slack_user_id):
            return None
        return f"you are not an approver for {record.role_name}"

    async def _is_approver(self, policy: RolePolicy, slack_user_id: str) -> bool:
        entra: Requester | None = None
        for ref in policy.approvers:
            if ref.kind is ApproverKind.SLACK_USER and ref.id == slack_user_id:
                return True
            if ref.kind is ApproverKind.SLACK_USERGROUP:
                members = await self._svc.identity.directory.usergroup_members(ref.id)
                if slack_user_id in members:
                    return True
            if ref.kind in (ApproverKind.ENTRA_USER, ApproverKind.ENTRA_GROUP):
                entra = entra or await self._entra_of(slack_user_id)
                if entra is not None and await self._entra_matches(ref.kind, ref.id, entra):
                    return True
        return False

    async def _entra_of(self, slack_user_id: str) -> Requester | None:
        try:
            return await self._svc.identity.resolve(slack_user_id)
        except (SignInRequired, StepUpRequired):
            raise  # user mode: who they are is read as them, so they must sign in first
        except PimError:
            return None  # an unmapped clicker simply isn't an Entra approver

    async def _entra_matches(self, kind: ApproverKind, ref_id: str, who: Requester) -> bool:
        if kind is ApproverKind.ENTRA_USER:
            return ref_id in (who.user.id, who.user.user_principal_name)
        members = await self._svc.graph.list_group_members(ref_id)
        return any(m.id == who.user.id for m in members)

    def _load(self, request_id: str) -> ActivationRecord:
        record = self._svc.store.get_request(request_id)
        if record is None:
            raise RequestNotFound(f"There is no request `{request_id}`.")
        return record

    async def _audit(
        self, kind: AuditKind, record: ActivationRecord, actor: str | None, detail: str | None
    ) -> None:
        now = self._svc.clock.now()
        await self._svc.record_audit(event_for(kind, record, at=now, actor=actor, detail=detail))


def _already_decided(record: ActivationRecord) -> str:
    if record.decided_by:
        when = f" at {record.decided_at:%H:%M} UTC" if record.decided_at else ""
        who = f"<@{record.decided_by}>"
        return f"Request `{record.id}` was already {record.state.value} by {who}{when}."
    state = record.state.value.replace("_", " ")
    return f"Request `{record.id}` is {state}; there is nothing to decide."
