"""Requests Entra itself holds for approval (user mode, PIM-native approvals).

`selfActivate` on a role whose PIM policy requires approval comes back PendingApproval;
from then on Entra decides. This sends an approver's click to Entra as that approver,
reads how Entra settled a request decided elsewhere (the portal), and withdraws one the
bot stops waiting for, so nobody approves it later.
"""

from __future__ import annotations

import logging

from bot.domain.audit import AuditKind, event_for
from bot.domain.people import PersonKey
from bot.domain.requests import ActivationRecord, RequestState
from bot.errors import GraphError, NotAuthorised, NotAuthorisedGraph, PimError
from bot.service.deps import Deps
from bot.service.outcomes import Outcome, OutcomeKind
from bot.service.ports import ActivationHooks, EntraApprovals, Review

log = logging.getLogger(__name__)
S = RequestState
DECIDED_IN_ENTRA = "decided in Microsoft Entra, outside Slack"
# Graph's request statuses once an approver (or Entra) has settled a PendingApproval.
OUTCOMES = {
    "Provisioned": S.APPROVED,
    "Granted": S.APPROVED,
    "PendingProvisioning": S.APPROVED,
    "ScheduleCreated": S.APPROVED,
    "PendingScheduleCreation": S.APPROVED,
    "Denied": S.DENIED,
    "Canceled": S.CANCELLED,
    "Revoked": S.EXPIRED,
    "Failed": S.EXPIRED,
    "TimedOut": S.EXPIRED,
}


class EntraHeld:
    """Decide, read and withdraw Entra-held requests, each as the right signed-in user."""

    def __init__(self, approvals: EntraApprovals, deps: Deps, hooks: ActivationHooks) -> None:
        self._approvals, self._svc, self._hooks = approvals, deps, hooks

    @staticmethod
    def holds(record: ActivationRecord) -> bool:
        return record.state is S.PENDING_APPROVAL and record.graph_request_id is not None

    async def send(
        self, record: ActivationRecord, person: PersonKey, review: Review, reason: str | None
    ) -> None:
        """The click, as the approver; Entra's refusal is audited and raised NotAuthorised."""
        graph_request_id = record.graph_request_id
        if graph_request_id is None:
            raise RuntimeError("only requests Entra holds are decided in Entra")
        verb = "Approved" if review == "Approve" else "Denied"
        justification = reason or f"{verb} in Slack (pimbot request {record.id})"
        try:
            # The approval's id is the request's, so the approver need not read the
            # request first (reading others' requests needs a reader role):
            # https://learn.microsoft.com/graph/api/approval-get?view=graph-rest-beta
            await self._approvals.decide_as(person, graph_request_id, None, review, justification)
        except (NotAuthorised, NotAuthorisedGraph) as exc:
            event = event_for(
                AuditKind.DECISION_REFUSED,
                record,
                at=self._svc.clock.now(),
                actor=person,
                detail=exc.user_message,
            )
            await self._svc.audit.record(event)
            raise NotAuthorised(exc.user_message) from None
        except GraphError as exc:
            if exc.status == 409:  # someone decided first, in Slack or in the portal
                raise NotAuthorised(exc.user_message) from None
            raise

    async def activated(self, record: ActivationRecord) -> Outcome:
        """Entra provisioned an approved request itself: record the activation from the
        request's own duration (reconciliation corrects the end if Entra's differs)."""
        svc = self._svc
        with svc.actors.acting_as(record.requester):
            requester = await svc.identity.resolve(record.requester)
        claimed = svc.store.transition(record.id, frozenset({S.APPROVED}), S.ACTIVATING)
        if claimed is None:
            raise NotAuthorised(f"Request `{record.id}` is already being handled.")
        start = svc.clock.now()
        end = start + record.duration
        done = svc.store.transition(
            record.id, frozenset({S.ACTIVATING}), S.ACTIVE, start=start, end=end
        )
        final = done or claimed
        self._hooks.plan(final)
        actor = record.requester
        await svc.audit.record(event_for(AuditKind.ACTIVATED, final, at=start, actor=actor))
        return Outcome(
            OutcomeKind.ACTIVATED, requester, final.target, final, end, final.graph_request_id
        )

    async def settled_as(self, record: ActivationRecord) -> RequestState | None:
        """How Entra settled the request (None: still pending, or unreadable this time)."""
        try:
            with self._svc.actors.acting_as(record.requester):
                requests = await self._svc.graph.list_requests(record.principal_id)
        except PimError as exc:  # incl. a requester whose sign-in lapsed: next round
            log.info("reconcile: %s not read this round (%s)", record.id, type(exc).__name__)
            return None
        status = next((r.status for r in requests if r.id == record.graph_request_id), None)
        return OUTCOMES.get(status or "")

    async def withdraw(self, record: ActivationRecord) -> None:
        """Cancel it in Entra as its requester; if that fails, Entra's own expiry ends it."""
        if record.graph_request_id is None:
            return
        try:
            with self._svc.actors.acting_as(record.requester):
                await self._svc.graph.cancel_request(record.graph_request_id)
        except PimError as exc:
            log.warning("expired %s is still pending in Entra (%s)", record.id, type(exc).__name__)
