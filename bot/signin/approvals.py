"""PIM-native approvals as the approver: Graph beta `roleAssignmentApprovals`.

A selfActivate that needs approval comes back `PendingApproval` with an `approvalId`.
The approver (signed in with `/pim login`) decides on the step assigned to them:

    decision = await approvals.approve_as("U_MEGAN", approval_id, None, "ticket checked")

Graph enforces that they are an approver and not the requester (403), and that the step
is still open (409). An approver who is not signed in gets `SignInRequired` before any
call is made: the Slack layer keeps their click and replays it after `/pim login`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from bot.domain.people import PersonKey
from bot.errors import GraphError, NotAuthorised, NotAuthorisedGraph
from bot.graph.envelope import error_from_response
from bot.graph.odata import segment
from bot.service.ports import Review
from bot.service.signins import SignInRequired
from bot.signin.acting import ActingUser
from bot.signin.graphs import DelegatedGraphs
from bot.signin.tokens import UserTokens

APPROVALS = "/beta/roleManagement/directory/roleAssignmentApprovals"
REQUESTS = "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests"


@dataclass(frozen=True, slots=True)
class ApprovalDecision:
    approval_id: str
    step_id: str
    review_result: Review
    justification: str


class PimApprovals:
    """Approve or deny PIM approval steps with the approver's own delegated token."""

    def __init__(self, graphs: DelegatedGraphs, tokens: UserTokens, actor: ActingUser) -> None:
        self._http, self._tokens, self._actor = graphs.http, tokens, actor

    async def approve_as(
        self, approver: PersonKey, approval_id: str, step_id: str | None, justification: str
    ) -> ApprovalDecision:
        """Approve; `step_id` None means the step assigned to the approver."""
        return await self.decide_as(approver, approval_id, step_id, "Approve", justification)

    async def deny_as(
        self, approver: PersonKey, approval_id: str, step_id: str | None, justification: str
    ) -> ApprovalDecision:
        return await self.decide_as(approver, approval_id, step_id, "Deny", justification)

    async def decide_as(
        self,
        approver: PersonKey,
        approval_id: str,
        step_id: str | None,
        review: Review,
        justification: str,
    ) -> ApprovalDecision:
        self._require_signed_in(approver)
        path = f"{APPROVALS}/{segment(approval_id)}"
        with self._actor.acting_as(approver):
            step = step_id or _my_step(_json(await self._http.get(path)))
            body = {"reviewResult": review, "justification": justification}
            response = await self._http.patch(f"{path}/steps/{segment(step)}", json=body)
            if response.status_code >= 400:
                raise _refusal(response)
        return ApprovalDecision(approval_id, step, review, justification)

    def _require_signed_in(self, person: PersonKey) -> None:
        if not self._tokens.state(person).linked:
            raise SignInRequired(
                person,
                "To decide on PIM approvals you need to sign in to Microsoft Entra: run "
                "`/pim login`. Your decision is kept and applied once you have signed in.",
            )


def _my_step(approval: dict[str, Any]) -> str:
    for step in approval.get("steps") or []:
        if step.get("assignedToMe") and step.get("status") in ("InProgress", "NotStarted"):
            return str(step["id"])
    raise NotAuthorised(
        "That approval has no open step assigned to you: you may not be an approver for "
        "this role, it may be your own request, or it was already decided."
    )


def _json(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        raise _refusal(response)
    data: dict[str, Any] = response.json()
    return data


def _refusal(response: httpx.Response) -> GraphError:
    if response.status_code == 409:
        return GraphError("Someone already decided on that request.", code="Conflict", status=409)
    if response.status_code == 403:
        return NotAuthorisedGraph(
            "Microsoft Entra says you may not decide on that request (you must be an "
            "approver for the role, and not the requester).",
            code="Forbidden",
            status=403,
        )
    return error_from_response(response)
