"""Graph beta's approval API for PIM activations: an approval per PendingApproval
request (its `approvalId`), with one step for the role's approvers.

    GET   /beta/roleManagement/directory/roleAssignmentApprovals/{id}
    GET   /beta/roleManagement/directory/roleAssignmentApprovals/{id}/steps
    PATCH /beta/roleManagement/directory/roleAssignmentApprovals/{id}/steps/{stepId}
          {"reviewResult": "Approve" | "Deny", "justification": "..."}  -> 204

Only a signed-in user may review (application permissions are not supported); they must
be an approver of the role and not the requester; a decided step answers 409.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.simulators.sandbox.errors import GraphFailure, bad_request, not_found
from bot.simulators.sandbox.model import ScheduleRequest
from bot.simulators.sandbox.responses import graph_json, require_caller
from bot.simulators.sandbox.tenant import SandboxTenant
from bot.simulators.sandbox.timefmt import format_dt
from bot.simulators.sandbox.tokens import Caller

BASE = "/beta/roleManagement/directory/roleAssignmentApprovals"
_CONTEXT = "https://graph.microsoft.com/beta/$metadata#roleManagement/directory/"
Json = dict[str, Any]


def step_id(approval_id: str) -> str:
    """The id of an approval's single step (stable, GUID-shaped as in Graph)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"pim-approval-step/{approval_id}"))


def _approval(request: Request) -> tuple[SandboxTenant, Caller, ScheduleRequest]:
    caller = require_caller(request)
    tenant: SandboxTenant = request.app.state.tenant
    ident = request.path_params["ident"]
    found = tenant.requests.get(ident)
    if found is None or not (found.reviews or found.status == "PendingApproval"):
        raise not_found("approval", ident)
    return tenant, caller, found


def render_step(tenant: SandboxTenant, caller: Caller, record: ScheduleRequest) -> Json:
    """An approvalStep as Graph beta spells it."""
    review = record.reviews[-1] if record.reviews else None
    reviewer = tenant.directory.users.get(str(review["reviewerId"])) if review else None
    approvers = tenant.approvers(record.role_id)  # named, or the default approvers
    pending = record.status == "PendingApproval"
    mine = caller.kind == "user" and caller.object_id in approvers
    return {
        "id": step_id(record.id),
        "displayName": None,
        "assignedToMe": pending and mine and caller.object_id != record.principal_id,
        "status": "InProgress" if pending else "Completed",
        "reviewResult": str(review["result"]) if review else "NotReviewed",
        "justification": review["justification"] if review else None,
        "reviewedBy": {"id": reviewer.id, "displayName": reviewer.display_name}
        if reviewer
        else None,
        "reviewedDateTime": format_dt(record.completed) if review and record.completed else None,
    }


async def get_approval(request: Request) -> JSONResponse:
    tenant, caller, record = _approval(request)
    return graph_json(
        {
            "@odata.context": _CONTEXT + "roleAssignmentApprovals/$entity",
            "id": record.id,
            "steps": [render_step(tenant, caller, record)],
        }
    )


async def list_steps(request: Request) -> JSONResponse:
    tenant, caller, record = _approval(request)
    context = _CONTEXT + f"roleAssignmentApprovals('{record.id}')/steps"
    return graph_json({"@odata.context": context, "value": [render_step(tenant, caller, record)]})


async def review_step(request: Request) -> Response:
    tenant, caller, record = _approval(request)
    if request.path_params["step"] != step_id(record.id):
        raise not_found("approvalStep", request.path_params["step"])
    if caller.kind != "user":
        raise GraphFailure(403, "Forbidden", "Approvals must be reviewed by a signed-in user.")
    body = _body(await request.body())
    result = body.get("reviewResult")
    if result not in ("Approve", "Deny"):
        raise bad_request("reviewResult must be 'Approve' or 'Deny'.")
    justification = str(body.get("justification") or "").strip()
    if not justification:
        raise bad_request("The approver's justification is required.")
    if record.status != "PendingApproval":
        raise GraphFailure(409, "Conflict", "The approval step has already been reviewed.")
    decide = tenant.approve if result == "Approve" else tenant.deny
    decide(record.id, caller.object_id, justification)  # 403 unless an approver, not requester
    return Response(status_code=204)


def _body(raw: bytes) -> Json:
    try:
        body = json.loads(raw or b"{}")
    except ValueError as exc:
        raise bad_request("The request body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    return body


ROUTES = [
    Route(f"{BASE}/{{ident}}", get_approval),
    Route(f"{BASE}/{{ident}}/steps", list_steps),
    Route(f"{BASE}/{{ident}}/steps/{{step}}", review_step, methods=["PATCH"]),
]
