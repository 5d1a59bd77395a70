"""A role's settings as Graph's unifiedRoleManagementPolicy (assignment) JSON."""

from __future__ import annotations

import uuid
from typing import Any

from bot.simulators.sandbox.model import RoleSettings
from bot.simulators.sandbox.timefmt import format_duration

Json = dict[str, Any]
_NS = "#microsoft.graph."


def _target(caller: str, level: str) -> Json:
    return {
        "caller": caller,
        "operations": ["all"],
        "level": level,
        "inheritableSettings": [],
        "enforcedSettings": [],
    }


def _expiration(rule_id: str, required: bool, maximum: Any, caller: str, level: str) -> Json:
    return {
        "@odata.type": _NS + "unifiedRoleManagementPolicyExpirationRule",
        "id": rule_id,
        "isExpirationRequired": required,
        "maximumDuration": format_duration(maximum),
        "target": _target(caller, level),
    }


def _enablement(rule_id: str, rules: tuple[str, ...], caller: str, level: str) -> Json:
    return {
        "@odata.type": _NS + "unifiedRoleManagementPolicyEnablementRule",
        "id": rule_id,
        "enabledRules": list(rules),
        "target": _target(caller, level),
    }


def _auth_context(settings: RoleSettings) -> Json:
    return {
        "@odata.type": _NS + "unifiedRoleManagementPolicyAuthenticationContextRule",
        "id": "AuthenticationContext_EndUser_Assignment",
        "isEnabled": settings.auth_context is not None,
        "claimValue": settings.auth_context,
        "target": _target("EndUser", "Assignment"),
    }


def _approval(settings: RoleSettings, approver_names: dict[str, str]) -> Json:
    stages = (
        [
            {
                "approvalStageTimeOutInDays": 1,
                "isApproverJustificationRequired": True,
                "escalationTimeInMinutes": 0,
                "isEscalationEnabled": False,
                "primaryApprovers": [
                    {
                        "@odata.type": _NS + "singleUser",
                        "userId": uid,
                        "description": approver_names.get(uid),
                    }
                    for uid in settings.approvers
                ],
                "escalationApprovers": [],
            }
        ]
        if settings.approval_required
        else []
    )
    return {
        "@odata.type": _NS + "unifiedRoleManagementPolicyApprovalRule",
        "id": "Approval_EndUser_Assignment",
        "target": _target("EndUser", "Assignment"),
        "setting": {
            "isApprovalRequired": settings.approval_required,
            "isApprovalRequiredForExtension": False,
            "isRequestorJustificationRequired": True,
            "approvalMode": "SingleStage",
            "approvalStages": stages,
        },
    }


def policy_id(tenant_id: str, role_id: str) -> str:
    """Stable per role, shaped like Entra's `Directory_{tenant}_{guid}`."""
    return f"Directory_{tenant_id}_{uuid.uuid5(uuid.NAMESPACE_URL, 'pim-policy/' + role_id)}"


def policy(
    tenant_id: str,
    role_id: str,
    settings: RoleSettings,
    approver_names: dict[str, str],
    *,
    expand_rules: bool,
) -> Json:
    body: Json = {
        "id": policy_id(tenant_id, role_id),
        "displayName": "DirectoryRole",
        "description": "DirectoryRole",
        "isOrganizationDefault": False,
        "scopeId": "/",
        "scopeType": "DirectoryRole",
        "lastModifiedDateTime": None,
        "lastModifiedBy": {"displayName": None, "id": None},
    }
    if expand_rules:
        body["rules"] = [
            _expiration(
                "Expiration_Admin_Eligibility",
                settings.eligibility_expiration_required,
                settings.eligibility_max,
                "Admin",
                "Eligibility",
            ),
            _expiration(
                "Expiration_Admin_Assignment",
                settings.admin_expiration_required,
                settings.admin_max,
                "Admin",
                "Assignment",
            ),
            _enablement("Enablement_Admin_Eligibility", (), "Admin", "Eligibility"),
            _enablement("Enablement_Admin_Assignment", settings.admin_rules, "Admin", "Assignment"),
            _expiration(
                "Expiration_EndUser_Assignment",
                True,
                settings.activation_max,
                "EndUser",
                "Assignment",
            ),
            _enablement(
                "Enablement_EndUser_Assignment", settings.activation_rules, "EndUser", "Assignment"
            ),
            _auth_context(settings),
            _approval(settings, approver_names),
        ]
    return body


def policy_assignment(
    tenant_id: str,
    role_id: str,
    settings: RoleSettings,
    approver_names: dict[str, str],
    *,
    expand: bool,
    expand_rules: bool,
) -> Json:
    pid = policy_id(tenant_id, role_id)
    body: Json = {
        "id": f"{pid}_{role_id}",
        "policyId": pid,
        "scopeId": "/",
        "scopeType": "DirectoryRole",
        "roleDefinitionId": role_id,
    }
    if expand:
        body["policy"] = policy(
            tenant_id, role_id, settings, approver_names, expand_rules=expand_rules
        )
    return body
