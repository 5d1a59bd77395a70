"""PIM's rules for roleAssignmentScheduleRequests: what each action checks and changes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.simulators.sandbox.errors import (
    GraphFailure,
    assignment_exists,
    assignment_missing,
    bad_request,
    not_found,
    policy_failed,
)
from bot.simulators.sandbox.intake import invalid_schedule, parse_request
from bot.simulators.sandbox.model import Assignment, ScheduleRequest
from bot.simulators.sandbox.stepup import require_auth_context
from bot.simulators.sandbox.tokens import Caller

if TYPE_CHECKING:
    from bot.simulators.sandbox.tenant import SandboxTenant


def submit(tenant: SandboxTenant, body: dict[str, Any], caller: Caller) -> ScheduleRequest:
    """Validate a request body, apply the action's rules, return the recorded request."""
    request = parse_request(body, caller, tenant.now(), tenant.new_id())
    tenant.role(request.role_id)
    directory = tenant.directory
    if request.principal_id not in directory.users | directory.groups:
        raise not_found("principal", request.principal_id)
    if not tenant.scope_exists(request.scope):
        # An administrative unit this tenant doesn't have (Graph's exact answer here is
        # not documented; the sandbox refuses).
        raise bad_request(
            f"The directory scope {request.scope!r} does not exist.", code="InvalidDirectoryScope"
        )
    if (
        caller.kind == "user"
        and request.action.startswith("self")
        and (caller.object_id != request.principal_id)
    ):
        raise GraphFailure(403, "Forbidden", "A self action must name the signed-in user.")
    require_auth_context(tenant.settings(request.role_id), request.action, caller)
    _HANDLERS[request.action](tenant, request)
    return request


def decide(
    tenant: SandboxTenant,
    request: ScheduleRequest,
    approve: bool,
    reviewer_id: str | None,
    justification: str | None,
) -> ScheduleRequest:
    """An approver's decision on a PendingApproval selfActivate."""
    if request.status != "PendingApproval":
        raise bad_request(f"The request is {request.status}, not PendingApproval.")
    if reviewer_id is not None:
        approvers = tenant.settings(request.role_id).approvers
        if reviewer_id not in approvers or reviewer_id == request.principal_id:
            raise GraphFailure(403, "Forbidden", "The reviewer is not an approver here.")
    now = tenant.now()
    request.reviews.append(
        {
            "reviewerId": reviewer_id,
            "justification": justification,
            "result": "Approve" if approve else "Deny",
        }
    )
    request.completed = now
    if not approve:
        request.status = "Denied"
        return request
    if tenant.live_assignment(request.principal_id, request.role_id, request.scope):
        request.status = "Failed"  # the role became active some other way meanwhile
        return request
    start = max(request.start, now)
    length = request.duration or (request.end - request.start if request.end else None)
    _grant(tenant, request, start, start + length if length else None, "Activated")
    return request


def _self_activate(tenant: SandboxTenant, request: ScheduleRequest) -> None:
    settings = tenant.settings(request.role_id)
    if tenant.live_assignment(request.principal_id, request.role_id, request.scope):
        raise assignment_exists()
    if any(
        r.status == "PendingApproval"
        and r.principal_id == request.principal_id
        and (r.role_id, r.scope) == (request.role_id, request.scope)
        for r in tenant.requests.values()
    ):
        raise bad_request(
            "There is already an existing pending Role assignment request.",
            code="PendingRoleAssignmentRequest",
        )
    # Only an eligibility at the requested scope allows it: a user eligible over one
    # administrative unit can't activate tenant-wide, or over another unit.
    eligible = tenant.eligible_via(request.principal_id, request.role_id, request.scope)
    failed = [] if eligible else ["EligibilityRule"]
    failed += _rule_failures(request, settings.activation_max, True, settings.activation_rules)
    if failed:
        raise policy_failed(failed)
    if settings.approval_required:
        request.status, request.completed = "PendingApproval", None
        return
    _grant(tenant, request, request.start, request.end, "Activated")


def _admin_assign(tenant: SandboxTenant, request: ScheduleRequest) -> None:
    # Like Graph, an admin assignment needs no eligibility, only the admin rules, at any
    # scope the tenant has (checked in `submit`).
    settings = tenant.settings(request.role_id)
    if tenant.live_assignment(request.principal_id, request.role_id, request.scope):
        raise assignment_exists()
    failed = _rule_failures(
        request, settings.admin_max, settings.admin_expiration_required, settings.admin_rules
    )
    if failed:
        raise policy_failed(failed)
    _grant(tenant, request, request.start, request.end, "Assigned")


def _remove(tenant: SandboxTenant, request: ScheduleRequest) -> None:
    # The assignment at the request's scope; the same role elsewhere is left alone.
    live = tenant.live_assignment(request.principal_id, request.role_id, request.scope)
    if live is None or (request.action == "selfDeactivate" and live.assignment_type != "Activated"):
        raise assignment_missing()
    now = tenant.now()
    too_soon = now - live.start < tenant.min_active_before_deactivate
    if request.action == "selfDeactivate" and too_soon:
        raise bad_request(
            "The role assignment was activated too recently to deactivate.",
            code="ActiveDurationTooShort",
        )
    live.ended, live.end = True, now
    request.status = "Revoked"
    request.target_schedule_id = live.id


def _extend(tenant: SandboxTenant, request: ScheduleRequest) -> None:
    live = tenant.live_assignment(request.principal_id, request.role_id, request.scope)
    if live is None:
        raise assignment_missing()
    settings = tenant.settings(request.role_id)
    new_end = request.end
    if new_end is None or (live.end is not None and new_end <= live.end):
        raise invalid_schedule("An extension must end after the assignment's current end.")
    is_self = request.action == "selfExtend"
    check = replace(request, start=live.start, end=new_end)
    failed = _rule_failures(
        check,
        settings.activation_max if is_self else settings.admin_max,
        True,
        settings.activation_rules if is_self else settings.admin_rules,
    )
    if failed:
        raise policy_failed(failed)
    live.end = new_end
    request.target_schedule_id = live.id


def _unsupported(tenant: SandboxTenant, request: ScheduleRequest) -> None:
    raise bad_request(f"The sandbox tenant does not support '{request.action}'.", "NotSupported")


_HANDLERS: dict[str, Callable[[SandboxTenant, ScheduleRequest], None]] = {
    "selfActivate": _self_activate,
    "adminAssign": _admin_assign,
    "selfDeactivate": _remove,
    "adminRemove": _remove,
    "selfExtend": _extend,
    "adminExtend": _extend,
    "adminUpdate": _unsupported,
    "adminRenew": _unsupported,
    "selfRenew": _unsupported,
}


def _rule_failures(
    request: ScheduleRequest,
    maximum: timedelta,
    expiration_required: bool,
    enabled: tuple[str, ...],
) -> list[str]:
    """Names of the failed rules, in the order Graph lists them."""
    failed: list[str] = []
    if request.end is None:
        if expiration_required:
            failed.append("ExpirationRule")
    elif request.end - request.start > maximum:
        failed.append("ExpirationRule")
    if "Justification" in enabled and not (request.justification or "").strip():
        failed.append("JustificationRule")
    if "Ticketing" in enabled and not request.ticket.number:
        failed.append("TicketingRule")
    return failed


def _grant(
    tenant: SandboxTenant,
    request: ScheduleRequest,
    start: datetime,
    end: datetime | None,
    assignment_type: str,
) -> None:
    now = tenant.now()
    delay = tenant.provisioning_delay
    ready = max(start, now + delay) if delay else start
    tenant.assignments.append(
        Assignment(
            request.id,
            request.principal_id,
            request.role_id,
            request.scope,
            ready,
            end,
            assignment_type,
            now,
        )
    )
    if delay and start <= now:
        request.status, request.ready_at = "PendingProvisioning", ready
        return
    request.status = "Provisioned" if start <= now else "Granted"
    request.completed = now
