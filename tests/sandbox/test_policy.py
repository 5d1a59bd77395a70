"""Role management policies, shaped as Graph returns them with $expand=policy($expand=rules)."""

from __future__ import annotations

from typing import Any

from tests.support.cast import ADMIN, GLOBAL_ADMIN, SECURITY_ADMIN, USER_ADMIN
from tests.support.graph_caller import RM, GraphCaller

ASSIGNMENTS = "/v1.0/policies/roleManagementPolicyAssignments"


async def rules_for(graph: GraphCaller, role_id: str) -> dict[str, dict[str, Any]]:
    response = await graph.get(
        ASSIGNMENTS,
        "unifiedRoleManagementPolicyAssignment",
        **{
            "$filter": f"scopeId eq '/' and scopeType eq 'DirectoryRole' and "
            f"roleDefinitionId eq '{role_id}'",
            "$expand": "policy($expand=rules)",
        },
    )
    [assignment] = response.json()["value"]
    assert assignment["roleDefinitionId"] == role_id
    assert assignment["policyId"] == assignment["policy"]["id"]
    return {rule["id"]: rule for rule in assignment["policy"]["rules"]}


async def test_entra_defaults(graph: GraphCaller) -> None:
    rules = await rules_for(graph, USER_ADMIN)
    expiration = rules["Expiration_EndUser_Assignment"]
    assert expiration["@odata.type"] == "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule"
    assert expiration["maximumDuration"] == "PT8H"
    assert rules["Enablement_EndUser_Assignment"]["enabledRules"] == ["Justification"]
    assert rules["Approval_EndUser_Assignment"]["setting"]["isApprovalRequired"] is False
    assert rules["Expiration_Admin_Assignment"]["maximumDuration"] == "P180D"
    assert rules["Enablement_Admin_Assignment"]["enabledRules"] == ["Justification"]
    assert rules["Expiration_EndUser_Assignment"]["target"]["caller"] == "EndUser"


async def test_security_administrator_requires_a_ticket(graph: GraphCaller) -> None:
    rules = await rules_for(graph, SECURITY_ADMIN)
    assert rules["Enablement_EndUser_Assignment"]["enabledRules"] == ["Justification", "Ticketing"]


async def test_global_administrator_requires_the_admins_approval(graph: GraphCaller) -> None:
    rules = await rules_for(graph, GLOBAL_ADMIN)
    approval = rules["Approval_EndUser_Assignment"]
    assert approval["@odata.type"] == "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule"
    assert approval["setting"]["isApprovalRequired"] is True
    [stage] = approval["setting"]["approvalStages"]
    assert [a["userId"] for a in stage["primaryApprovers"]] == [ADMIN.id]
    assert rules["Expiration_EndUser_Assignment"]["maximumDuration"] == "PT4H"


async def test_without_expand_there_is_no_policy_body(graph: GraphCaller) -> None:
    response = await graph.get(
        ASSIGNMENTS,
        "unifiedRoleManagementPolicyAssignment",
        **{
            "$filter": f"scopeId eq '/' and scopeType eq 'DirectoryRole' and "
            f"roleDefinitionId eq '{USER_ADMIN}'"
        },
    )
    [assignment] = response.json()["value"]
    assert "policy" not in assignment


async def test_schedules_and_instances_listings(graph: GraphCaller) -> None:
    eligibility = await graph.get(
        f"{RM}/roleEligibilitySchedules", "unifiedRoleEligibilitySchedule", **{"$top": "3"}
    )
    assert len(eligibility.json()["value"]) == 3 and "@odata.nextLink" in eligibility.json()
    assigned = await graph.get(
        f"{RM}/roleAssignmentSchedules",
        "unifiedRoleAssignmentSchedule",
        **{"$filter": f"principalId eq '{ADMIN.id}'", "$expand": "principal"},
    )
    [schedule] = assigned.json()["value"]
    assert schedule["roleDefinitionId"] == GLOBAL_ADMIN
    assert schedule["scheduleInfo"]["expiration"]["type"] == "noExpiration"
    assert schedule["principal"]["displayName"] == "MOD Administrator"
