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
    forbidden,
    not_found,
    policy_failed,
)
from bot.simulators.sandbox.intake import invalid_schedule, parse_request
from bot.simulators.sandbox.model import Assignment, ScheduleRequest
from bot.simulators.sandbox.permissions import ROLE_WRITERS
from bot.simulators.sandbox.stepup import require_auth_context
from bot.simulators.sandbox.tokens import Caller

if TYPE_CHECKING:
    from bot.simulators.sandbox.tenant import SandboxTenant

MIN_ACTIVE = timedelta(minutes=5)  # no deactivation sooner, no activation shorter
SELF_EXTEND_WINDOW = timedelta(days=14)


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
    if caller.kind == "application" and request.action.startswith("self"):
        # "selfActivate: For users to activate their assignments" (and so on): a self
        # action is the signed-in user's; an app-only token has no user to act as. Graph's
        # exact answer is not documented: the sandbox refuses.
        raise bad_request(
            f"'{request.action}' needs a signed-in user's (delegated) token; an application "
            "acts with the admin actions."
        )
    if caller.kind == "user":
        if request.action.startswith("self") and caller.object_id != request.principal_id:
            raise GraphFailure(403, "Forbidden", "A self action must name the signed-in user.")
        if request.action.startswith("admin") and not tenant.holds_role(
            caller.object_id, ROLE_WRITERS
        ):
            raise forbidden()  # (permissions.ROLE_WRITERS)
    require_auth_context(tenant.settings(request.role_id), request.action, caller)
    _HANDLERS[request.action](tenant, request, caller)
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
        # The policy's approvers, or by default the Privileged Role / Global Administrators.
        approvers = tenant.approvers(request.role_id)
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
    eligible = tenant.eligible_via(request.principal_id, request.role_id, request.scope)
    via_group = eligible is not None and eligible.principal_id != request.principal_id
    end = start + length if length else None
    _grant(tenant, request, start, end, "Activated", "Group" if via_group else "Direct")
    return request


def _self_activate(tenant: SandboxTenant, request: ScheduleRequest, caller: Caller) -> None:
    settings = tenant.settings(request.role_id)
    if tenant.live_assignment(request.principal_id, request.role_id, request.scope):
        raise assignment_exists()
    _refuse_too_short(request)
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
    failed += _rule_failures(
        request, settings.activation_max, True, settings.activation_rules, caller
    )
    if failed:
        raise policy_failed(failed)
    if settings.approval_required:
        request.status, request.completed = "PendingApproval", None
        return
    # Activated through a role-assignable group's eligibility: the instance says so
    # (memberType "Inherited", "Direct" or "Group": https://learn.microsoft.com/en-us/
    # graph/api/resources/unifiedroleassignmentscheduleinstance).
    via_group = eligible is not None and eligible.principal_id != request.principal_id
    member_type = "Group" if via_group else "Direct"
    _grant(tenant, request, request.start, request.end, "Activated", member_type)


def _admin_assign(tenant: SandboxTenant, request: ScheduleRequest, caller: Caller) -> None:
    # Like Graph, an admin assignment needs no eligibility, only the admin rules, at any
    # scope the tenant has (checked in `submit`).
    settings = tenant.settings(request.role_id)
    if tenant.live_assignment(request.principal_id, request.role_id, request.scope):
        raise assignment_exists()
    # Admin actions obey the *_Admin_Assignment rules, never the EndUser ones (MFA on
    # activation, authentication context, approval): "Enablement_Admin_Assignment - Rules
    # that apply for admins to carry out operations on role assignments";
    # "Enablement_EndUser_Assignment - Rules that apply for principals to enable their
    # assignments. For example, whether multifactor authentication is required"
    # (https://learn.microsoft.com/en-us/entra/id-governance/privileged-identity-management/
    # pim-how-to-change-default-settings, "Manage role settings through Microsoft Graph").
    failed = _rule_failures(
        request,
        settings.admin_max,
        settings.admin_expiration_required,
        settings.admin_rules,
        caller,
    )
    if failed:
        raise policy_failed(failed)
    _grant(tenant, request, request.start, request.end, "Assigned")


def _remove(tenant: SandboxTenant, request: ScheduleRequest, caller: Caller) -> None:
    # The assignment at the request's scope; the same role elsewhere is left alone.
    live = tenant.live_assignment(request.principal_id, request.role_id, request.scope)
    if live is None or (request.action == "selfDeactivate" and live.assignment_type != "Activated"):
        raise assignment_missing()
    # The removal's own moment (its createdDateTime and completedDateTime): what Graph
    # shows as the end of the activation is that one instant, not a later reading.
    now = request.created
    # "you can't deactivate a role assignment within five minutes after activation"
    # (https://learn.microsoft.com/en-us/entra/id-governance/privileged-identity-management/
    # pim-how-to-activate-role, "Deactivate a role assignment"). Whether adminRemove is
    # held to it too is not documented: the sandbox refuses, as it does where unsure.
    if now - live.start < MIN_ACTIVE:
        raise too_short()
    live.ended, live.end = True, now
    request.status = "Revoked"
    request.target_schedule_id = live.id


def _self_extend(tenant: SandboxTenant, request: ScheduleRequest, caller: Caller) -> None:
    """A request to administrators, not an extension: "selfExtend: For users to request to
    extend their expiring assignments"
    (https://learn.microsoft.com/en-us/graph/api/rbacapplication-post-roleassignmentschedulerequests);
    "users can request to extend eligible or active (assigned) roles that expire in the
    next 14 days ... Administrators receive an email notification to review the extension
    request" (https://learn.microsoft.com/en-us/entra/id-governance/privileged-identity-management/
    pim-how-to-renew-extend). It stays PendingAdminDecision and changes nothing."""
    live = _extendable(tenant, request)
    if live.end is None or live.end - tenant.now() > SELF_EXTEND_WINDOW:
        raise bad_request(
            "Only an assignment that expires within 14 days can be extended.",
            code="RoleAssignmentRequestPolicyValidationFailed",
        )
    if any(
        r.status == "PendingAdminDecision" and r.target_schedule_id == live.id
        for r in tenant.requests.values()
    ):
        raise bad_request(
            "There is already an existing pending Role assignment request.",
            code="PendingRoleAssignmentRequest",
        )
    request.status, request.completed = "PendingAdminDecision", None
    request.target_schedule_id = live.id


def _admin_extend(tenant: SandboxTenant, request: ScheduleRequest, caller: Caller) -> None:
    """ "adminExtend: For administrators to extend expiring assignments": a new end for an
    assignment that has one, checked against the Admin rules."""
    live = _extendable(tenant, request)
    settings = tenant.settings(request.role_id)
    new_end = request.end
    if live.end is None:
        raise bad_request("A permanent assignment does not expire and cannot be extended.")
    if new_end is None or new_end <= live.end:
        raise invalid_schedule("An extension must end after the assignment's current end.")
    check = replace(request, start=live.start, end=new_end)
    failed = _rule_failures(
        check,
        settings.admin_max,
        settings.admin_expiration_required,
        settings.admin_rules,
        caller,
    )
    if failed:
        raise policy_failed(failed)
    live.end = new_end
    request.target_schedule_id = live.id


def _extendable(tenant: SandboxTenant, request: ScheduleRequest) -> Assignment:
    """The principal's own assignment an extension is about. PIM documents extending
    eligible and active *assignments*, never an activation of an eligibility, and for
    "a group assigned to a role, the Extend link never becomes available" (pim-how-to-
    renew-extend): an activation is refused, as the sandbox refuses what it can't say
    Entra does."""
    live = tenant.live_assignment(request.principal_id, request.role_id, request.scope)
    if live is None:
        raise assignment_missing()
    if live.assignment_type == "Activated":
        raise bad_request(
            "An activation cannot be extended: PIM extends assignments, not activations. "
            "Activate the role again when this activation ends."
        )
    return live


def _unsupported(tenant: SandboxTenant, request: ScheduleRequest, caller: Caller) -> None:
    raise bad_request(f"The sandbox tenant does not support '{request.action}'.", "NotSupported")


_HANDLERS: dict[str, Callable[[SandboxTenant, ScheduleRequest, Caller], None]] = {
    "selfActivate": _self_activate,
    "adminAssign": _admin_assign,
    "selfDeactivate": _remove,
    "adminRemove": _remove,
    "selfExtend": _self_extend,
    "adminExtend": _admin_extend,
    "adminUpdate": _unsupported,
    "adminRenew": _unsupported,
    "selfRenew": _unsupported,
}


def too_short() -> GraphFailure:
    """PIM's answer to an assignment shorter than 5 minutes: "The Active duration is too
    short. Miniumum Required is 5 minutes. Status: 400 (BadRequest) ErrorCode:
    ActiveDurationTooShort" (seen on an activation request,
    https://github.com/DanielChronlund/DCToolbox/issues/50). The sandbox gives the same
    answer to a deactivation within 5 minutes, whose code Microsoft does not document."""
    return bad_request(
        "The Active duration is too short. Minimum Required is 5 minutes.",
        code="ActiveDurationTooShort",
    )


def _refuse_too_short(request: ScheduleRequest) -> None:
    if request.end is not None and request.end - request.start < MIN_ACTIVE:
        raise too_short()


def _rule_failures(
    request: ScheduleRequest,
    maximum: timedelta,
    expiration_required: bool,
    enabled: tuple[str, ...],
    caller: Caller,
) -> list[str]:
    """Names of the failed rules, in the order Graph lists them. MFA is read from the
    token's `amr`; PIM's refusal is `The following policy rules failed: ["MfaRule"]`
    (https://github.com/microsoftgraph/msgraph-sdk-powershell/issues/1808), not a claims
    challenge. An application token never carries MFA."""
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
    if "MultiFactorAuthentication" in enabled and not caller.mfa:
        failed.append("MfaRule")
    return failed


def _grant(
    tenant: SandboxTenant,
    request: ScheduleRequest,
    start: datetime,
    end: datetime | None,
    assignment_type: str,
    member_type: str = "Direct",
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
            member_type,
        )
    )
    if delay and start <= now:
        request.status, request.ready_at = "PendingProvisioning", ready
        return
    request.status = "Provisioned" if start <= now else "Granted"
    request.completed = now
