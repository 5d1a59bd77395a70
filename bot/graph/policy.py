"""A role's PIM policy (rules of a roleManagementPolicyAssignment) -> `RolePolicy`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.domain.durations import parse_duration
from bot.domain.models import ApproverKind, ApproverRef, RolePolicy
from bot.errors import InputError

# What Entra applies when a role has no policy assignment or no expiration rule.
DEFAULT_MAX = timedelta(hours=8)

# "If no specific approvers are selected, Privileged Role Administrators and Global
# Administrators become the default approvers" (the approvalStages' primaryApprovers are
# then empty): https://learn.microsoft.com/en-us/entra/id-governance/privileged-identity-management/pim-how-to-change-default-settings
PRIVILEGED_ROLE_ADMINISTRATOR = "e8611ab8-c189-46e8-94e1-60213ab1f814"
GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
DEFAULT_APPROVERS = (
    ApproverRef(
        ApproverKind.ENTRA_ROLE, PRIVILEGED_ROLE_ADMINISTRATOR, "Privileged Role Administrator"
    ),
    ApproverRef(ApproverKind.ENTRA_ROLE, GLOBAL_ADMINISTRATOR, "Global Administrator"),
)

_KINDS = {
    "#microsoft.graph.singleUser": (ApproverKind.ENTRA_USER, "userId"),
    "#microsoft.graph.groupMembers": (ApproverKind.ENTRA_GROUP, "groupId"),
}


def policy_from_assignments(assignments: list[dict[str, Any]]) -> RolePolicy:
    """The end-user activation rules of the first assignment (there is one per role)."""
    if not assignments:
        return RolePolicy(max_duration=DEFAULT_MAX)
    policy = assignments[0].get("policy") or {}
    rules = {rule.get("id"): rule for rule in policy.get("rules") or []}
    enabled = set((rules.get("Enablement_EndUser_Assignment") or {}).get("enabledRules") or [])
    approval = (rules.get("Approval_EndUser_Assignment") or {}).get("setting") or {}
    admin = rules.get("Expiration_Admin_Assignment") or {}
    context = rules.get("AuthenticationContext_EndUser_Assignment") or {}
    return RolePolicy(
        max_duration=_max_duration(rules.get("Expiration_EndUser_Assignment") or {}),
        justification_required="Justification" in enabled,
        ticket_required="Ticketing" in enabled,
        mfa_required="MultiFactorAuthentication" in enabled,
        approval_required=bool(approval.get("isApprovalRequired")),
        approvers=(_approvers(approval) or DEFAULT_APPROVERS)
        if approval.get("isApprovalRequired")
        else (),
        auth_context=(context.get("claimValue") or None) if context.get("isEnabled") else None,
        admin_max_duration=_max_duration(admin) if admin.get("isExpirationRequired") else None,
        admin_rules=frozenset(
            (rules.get("Enablement_Admin_Assignment") or {}).get("enabledRules") or []
        ),
    )


def _max_duration(rule: dict[str, Any]) -> timedelta:
    try:
        return parse_duration(str(rule["maximumDuration"]))
    except (KeyError, InputError):
        return DEFAULT_MAX


def _approvers(setting: dict[str, Any]) -> tuple[ApproverRef, ...]:
    refs: list[ApproverRef] = []
    for stage in setting.get("approvalStages") or []:
        for subject in stage.get("primaryApprovers") or []:
            kind = _KINDS.get(subject.get("@odata.type", ""))
            if kind and subject.get(kind[1]):
                refs.append(ApproverRef(kind[0], subject[kind[1]], subject.get("description")))
    return tuple(refs)
