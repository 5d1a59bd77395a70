"""The sandbox tenant as strict as Entra (issue 13), each rule over HTTP with the seed that
exercises it: Paris Office, Exchange Administrator (MFA), Teams Administrator (default
approvers), honest extend, the 5-minute floor, no nesting into role-assignable groups."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from bot.simulators.sandbox import SANDBOX_CLIENT_ID, SandboxTenant, create_app
from bot.simulators.sandbox.seed import SEED_FILE, load_seed
from bot.simulators.sandbox.stepup import claims_request
from tests.sandbox.seeded import EXCHANGE_ADMIN, PARIS, PARIS_SCOPE, TEAMS_ADMIN, sign_in
from tests.support.cast import (
    ADMIN,
    ALEX,
    ALINE,
    ANALYSTS_GROUP,
    HELPDESK_ADMIN,
    LEE,
    MEGAN,
    PRIV_ROLE_ADMIN,
    SECOPS_GROUP,
    USER_ADMIN,
)
from tests.support.clock import FakeClock
from tests.support.graph_caller import (
    BASE,
    REQUESTS,
    RM,
    TOKEN_PATH,
    GraphCaller,
    assert_graph_error,
    request_body,
)

POLICY_FAILED = "RoleAssignmentRequestPolicyValidationFailed"
POLICIES = "/v1.0/policies/roleManagementPolicyAssignments"
APPROVALS = "/beta/roleManagement/directory/roleAssignmentApprovals"


def at(scope: str, body: dict[str, Any]) -> dict[str, Any]:
    return body | {"directoryScopeId": scope}


async def rules_of(graph: GraphCaller, role: str) -> dict[str, dict[str, Any]]:
    params = {
        "$filter": "scopeId eq '/' and scopeType eq 'DirectoryRole' and "
        f"roleDefinitionId eq '{role}'",
        "$expand": "policy($expand=rules)",
    }
    response = await graph.get(POLICIES, **params)
    return {r["id"]: r for r in response.json()["value"][0]["policy"]["rules"]}


def claims_of(id_token: str) -> dict[str, Any]:
    payload = id_token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


class TestParisOffice:
    async def test_the_unit_is_listed(self, graph: GraphCaller) -> None:
        listed = await graph.get("/v1.0/directory/administrativeUnits")

        assert [(u["id"], u["displayName"]) for u in listed.json()["value"]] == [
            (PARIS.id, "Paris Office")
        ]

    async def test_alines_helpdesk_eligibility_is_over_paris_only_and_filterable(
        self, graph: GraphCaller
    ) -> None:
        mine = f"principalId eq '{ALINE.id}' and roleDefinitionId eq '{HELPDESK_ADMIN}'"
        collection = f"{RM}/roleEligibilityScheduleInstances"

        everywhere = await graph.get(collection, **{"$filter": mine})
        paris = await graph.get(
            collection, **{"$filter": f"{mine} and directoryScopeId eq '{PARIS_SCOPE}'"}
        )
        tenant_wide = await graph.get(
            collection, **{"$filter": f"{mine} and directoryScopeId eq '/'"}
        )

        assert [i["directoryScopeId"] for i in everywhere.json()["value"]] == [PARIS_SCOPE]
        assert len(paris.json()["value"]) == 1 and tenant_wide.json()["value"] == []

    async def test_activates_over_paris_and_the_request_and_instance_carry_the_scope(
        self, graph: GraphCaller, tenant: SandboxTenant
    ) -> None:
        wide = await graph.post_request(request_body("selfActivate", ALINE.id, HELPDESK_ADMIN))
        scoped = await graph.post_request(
            at(PARIS_SCOPE, request_body("selfActivate", ALINE.id, HELPDESK_ADMIN))
        )

        assert "EligibilityRule" in assert_graph_error(wide, 400, POLICY_FAILED)["message"]
        assert scoped.status_code == 201 and scoped.json()["directoryScopeId"] == PARIS_SCOPE
        [instance] = await graph.instances(ALINE.id)
        assert instance["directoryScopeId"] == PARIS_SCOPE
        stored = await graph.get(f"{REQUESTS}/{scoped.json()['id']}")
        assert stored.json()["directoryScopeId"] == PARIS_SCOPE
        assert tenant.live_assignment(ALINE.id, HELPDESK_ADMIN, "/") is None


class TestMfaOnActivation:
    """Exchange Administrator's policy requires MFA on activation; PIM reads it from the
    token and refuses with `The following policy rules failed: ["MfaRule"]`
    (https://github.com/microsoftgraph/msgraph-sdk-powershell/issues/1808)."""

    async def test_the_policy_says_so(self, graph: GraphCaller) -> None:
        rules = await rules_of(graph, EXCHANGE_ADMIN)

        enabled = rules["Enablement_EndUser_Assignment"]["enabledRules"]
        assert "MultiFactorAuthentication" in enabled

    async def test_a_password_only_sign_in_is_refused_and_an_mfa_one_activates(
        self, graph: GraphCaller, http: httpx.AsyncClient, tenant: SandboxTenant
    ) -> None:
        body = request_body("selfActivate", ALINE.id, EXCHANGE_ADMIN, duration="PT1H")
        plain = await sign_in(http, ALINE.upn or "", mfa=False)
        strong = await sign_in(http, ALINE.upn or "", mfa=True)

        refused = await graph.post_request(body, plain["access_token"])

        assert assert_graph_error(refused, 400, POLICY_FAILED)["message"] == (
            'The following policy rules failed: ["MfaRule"]'
        )
        assert tenant.live_assignment(ALINE.id, EXCHANGE_ADMIN) is None
        assert claims_of(plain["id_token"])["amr"] == ["pwd"]
        assert claims_of(strong["id_token"])["amr"] == ["mfa", "pwd"]
        accepted = await graph.post_request(body, strong["access_token"])
        assert accepted.status_code == 201 and accepted.json()["status"] == "Provisioned"

    async def test_a_refreshed_token_keeps_the_sign_ins_mfa(
        self, graph: GraphCaller, http: httpx.AsyncClient
    ) -> None:
        strong = await sign_in(http, ALINE.upn or "", mfa=True)
        form = {
            "grant_type": "refresh_token",
            "client_id": SANDBOX_CLIENT_ID,
            "refresh_token": strong["refresh_token"],
        }
        refreshed = (await http.post(TOKEN_PATH, data=form)).json()

        body = request_body("selfActivate", ALINE.id, EXCHANGE_ADMIN, duration="PT1H")
        assert (await graph.post_request(body, refreshed["access_token"])).status_code == 201

    async def test_a_step_up_to_the_mfa_context_counts_as_mfa(
        self, http: httpx.AsyncClient
    ) -> None:
        stepped = await sign_in(http, ALINE.upn or "", mfa=False, claims=claims_request("c1"))

        assert claims_of(stepped["id_token"])["amr"] == ["mfa", "pwd"]

    async def test_admin_assign_is_not_held_to_the_end_user_mfa_rule_but_to_the_admin_rules(
        self, graph: GraphCaller
    ) -> None:
        """adminAssign obeys Expiration_/Enablement_Admin_Assignment (Justification here):
        "Rules that apply for admins to carry out operations on role assignments", not
        Enablement_EndUser_Assignment's MFA (https://learn.microsoft.com/en-us/entra/
        id-governance/privileged-identity-management/pim-how-to-change-default-settings)."""
        unjustified = request_body("adminAssign", ALINE.id, EXCHANGE_ADMIN, justification=None)
        too_long = request_body("adminAssign", ALINE.id, EXCHANGE_ADMIN, duration="P181D")

        refused = await graph.post_request(unjustified)
        over = await graph.post_request(too_long)
        assigned = await graph.post_request(request_body("adminAssign", ALINE.id, EXCHANGE_ADMIN))

        assert assert_graph_error(refused, 400, POLICY_FAILED)["message"].endswith(
            '["JustificationRule"]'
        )
        assert assert_graph_error(over, 400, POLICY_FAILED)["message"].endswith(
            '["ExpirationRule"]'
        )
        assert assigned.status_code == 201
        assert [i["assignmentType"] for i in await graph.instances(ALINE.id)] == ["Assigned"]


class TestDefaultApprovers:
    """Teams Administrator requires approval and names nobody: "If no specific approvers
    are selected, Privileged Role Administrators and Global Administrators become the
    default approvers" (https://learn.microsoft.com/en-us/entra/id-governance/
    privileged-identity-management/pim-how-to-change-default-settings)."""

    async def test_the_policy_requires_approval_and_names_nobody(self, graph: GraphCaller) -> None:
        setting = (await rules_of(graph, TEAMS_ADMIN))["Approval_EndUser_Assignment"]["setting"]

        assert setting["isApprovalRequired"] is True
        assert [s["primaryApprovers"] for s in setting["approvalStages"]] == [[]]

    async def test_a_global_administrator_approves_and_others_cannot(
        self, graph: GraphCaller, user_token: Callable[[str], str]
    ) -> None:
        body = request_body("selfActivate", ALINE.id, TEAMS_ADMIN, duration="PT1H")
        pending = (await graph.post_request(body, user_token(ALINE.id))).json()
        assert pending["status"] == "PendingApproval"
        step = await self._step(graph, pending["approvalId"], user_token(ADMIN.id))
        review = {"reviewResult": "Approve", "justification": "Teams outage"}

        by_megan = await graph.call("PATCH", step["path"], json=review, token=user_token(MEGAN.id))
        by_admin = await graph.call("PATCH", step["path"], json=review, token=user_token(ADMIN.id))

        assert step["assignedToMe"] is True  # the admin holds Global Administrator
        assert_graph_error(by_megan, 403)  # Megan holds neither role
        assert by_admin.status_code == 204
        done = await graph.get(f"{REQUESTS}/{pending['id']}")
        assert done.json()["status"] == "Provisioned"

    async def test_an_active_privileged_role_administrator_approves_too(
        self, graph: GraphCaller, user_token: Callable[[str], str], clock: FakeClock
    ) -> None:
        assign = request_body("adminAssign", MEGAN.id, PRIV_ROLE_ADMIN, duration="PT8H")
        assert (await graph.post_request(assign)).status_code == 201
        body = request_body("selfActivate", ALINE.id, TEAMS_ADMIN, duration="PT1H")
        pending = (await graph.post_request(body, user_token(ALINE.id))).json()
        step = await self._step(graph, pending["approvalId"], user_token(MEGAN.id))

        review = {"reviewResult": "Deny", "justification": "Not now"}
        denied = await graph.call("PATCH", step["path"], json=review, token=user_token(MEGAN.id))

        assert step["assignedToMe"] is True and denied.status_code == 204
        assert (await graph.get(f"{REQUESTS}/{pending['id']}")).json()["status"] == "Denied"

    @staticmethod
    async def _step(graph: GraphCaller, approval_id: str, token: str) -> dict[str, Any]:
        response = await graph.http.get(
            f"{APPROVALS}/{approval_id}", headers={"Authorization": f"Bearer {token}"}
        )
        (step,) = response.json()["steps"]
        return step | {"path": f"{APPROVALS}/{approval_id}/steps/{step['id']}"}


class TestExtend:
    """selfExtend asks administrators ("selfExtend: For users to request to extend their
    expiring assignments"; "adminExtend: For administrators to extend expiring
    assignments": https://learn.microsoft.com/en-us/graph/api/rbacapplication-post-
    roleassignmentschedulerequests), for assignments expiring within 14 days
    (https://learn.microsoft.com/en-us/entra/id-governance/privileged-identity-management/
    pim-how-to-renew-extend). PIM documents no extension of an activation: refused."""

    @staticmethod
    def extension(action: str, principal: str, role: str, end: str) -> dict[str, Any]:
        return request_body(
            action, principal, role, expiration={"type": "afterDateTime", "endDateTime": end}
        )

    async def test_self_extend_asks_administrators_and_changes_nothing(
        self, graph: GraphCaller, user_token: Callable[[str], str]
    ) -> None:
        assign = request_body("adminAssign", ALEX.id, USER_ADMIN, duration="P10D")
        assert (await graph.post_request(assign)).status_code == 201
        [before] = await graph.instances(ALEX.id)
        body = self.extension("selfExtend", ALEX.id, USER_ADMIN, "2026-12-29T09:00:00Z")

        asked = await graph.post_request(body, user_token(ALEX.id))
        again = await graph.post_request(body, user_token(ALEX.id))

        assert asked.status_code == 201 and asked.json()["status"] == "PendingAdminDecision"
        assert asked.json()["completedDateTime"] is None
        assert await graph.instances(ALEX.id) == [before]
        assert_graph_error(again, 400, "PendingRoleAssignmentRequest")
        cancel = await graph.call(
            "POST", f"{REQUESTS}/{asked.json()['id']}/cancel", token=user_token(ALEX.id)
        )
        assert cancel.status_code == 204
        assert await graph.instances(ALEX.id) == [before]

    async def test_self_extend_of_an_assignment_not_expiring_within_14_days_is_refused(
        self, graph: GraphCaller, user_token: Callable[[str], str]
    ) -> None:
        assign = request_body("adminAssign", ALEX.id, USER_ADMIN, duration="P30D")
        assert (await graph.post_request(assign)).status_code == 201
        body = self.extension("selfExtend", ALEX.id, USER_ADMIN, "2027-02-01T09:00:00Z")

        assert_graph_error(await graph.post_request(body, user_token(ALEX.id)), 400)

    @pytest.mark.parametrize("action", ["selfExtend", "adminExtend"])
    async def test_an_activation_cannot_be_extended(
        self, graph: GraphCaller, user_token: Callable[[str], str], action: str
    ) -> None:
        token = user_token(ALINE.id)
        activate = request_body("selfActivate", ALINE.id, USER_ADMIN, duration="PT1H")
        assert (await graph.post_request(activate, token)).status_code == 201
        [before] = await graph.instances(ALINE.id)
        body = self.extension(action, ALINE.id, USER_ADMIN, "2026-11-29T12:00:00Z")

        refused = await graph.post_request(body, token if action == "selfExtend" else None)

        assert "activation cannot be extended" in assert_graph_error(refused, 400)["message"]
        assert await graph.instances(ALINE.id) == [before]

    async def test_admin_extend_moves_an_assignments_end(self, graph: GraphCaller) -> None:
        assign = request_body("adminAssign", ALEX.id, USER_ADMIN, duration="P10D")
        assert (await graph.post_request(assign)).status_code == 201
        body = self.extension("adminExtend", ALEX.id, USER_ADMIN, "2026-12-19T09:00:00Z")

        extended = await graph.post_request(body)

        assert extended.status_code == 201 and extended.json()["status"] == "Provisioned"
        [after] = await graph.instances(ALEX.id)
        assert after["endDateTime"] == "2026-12-19T09:00:00Z"


class TestFiveMinuteFloor:
    """ "you can't deactivate a role assignment within five minutes after activation"
    (https://learn.microsoft.com/en-us/entra/id-governance/privileged-identity-management/
    pim-how-to-activate-role); PIM's code for a too-short assignment is
    ActiveDurationTooShort (https://github.com/DanielChronlund/DCToolbox/issues/50)."""

    @pytest.mark.parametrize(
        ("activate", "remove"), [("selfActivate", "selfDeactivate"), ("adminAssign", "adminRemove")]
    )
    async def test_no_removal_within_five_minutes(
        self, graph: GraphCaller, clock: FakeClock, activate: str, remove: str
    ) -> None:
        assert (
            await graph.post_request(request_body(activate, ALINE.id, USER_ADMIN))
        ).status_code == 201
        body = request_body(remove, ALINE.id, USER_ADMIN, duration=None)

        clock.advance(timedelta(minutes=4, seconds=59))
        early = await graph.post_request(body)
        clock.advance(timedelta(seconds=1))
        later = await graph.post_request(body)

        assert "5 minutes" in assert_graph_error(early, 400, "ActiveDurationTooShort")["message"]
        assert later.status_code == 201 and later.json()["status"] == "Revoked"

    async def test_an_activation_shorter_than_five_minutes_is_refused(
        self, graph: GraphCaller
    ) -> None:
        body = request_body("selfActivate", ALINE.id, USER_ADMIN, duration="PT4M")

        assert_graph_error(await graph.post_request(body), 400, "ActiveDurationTooShort")


class TestRoleAssignableGroups:
    """ "Group nesting isn't supported. A group can't be added as a member of a
    role-assignable group", and "Only groups that have the isAssignableToRole property set
    to true ... can be assigned a role" (https://learn.microsoft.com/en-us/entra/identity/
    role-based-access-control/groups-concept)."""

    @staticmethod
    def seed_with(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
        raw = yaml.safe_load(SEED_FILE.read_text(encoding="utf-8"))
        change(raw)
        path = tmp_path / "seed.yml"
        path.write_text(yaml.safe_dump(raw), encoding="utf-8")
        return path

    def test_a_seed_nesting_a_group_into_a_role_assignable_group_is_refused(
        self, tmp_path: Path
    ) -> None:
        def nest(raw: dict[str, Any]) -> None:
            [secops] = [g for g in raw["groups"] if g["id"] == SECOPS_GROUP]
            secops["members"].append(ANALYSTS_GROUP)

        with pytest.raises(ValueError, match="cannot have groups as members"):
            load_seed(self.seed_with(tmp_path, nest))

    def test_a_seed_giving_a_role_to_a_plain_group_is_refused(self, tmp_path: Path) -> None:
        def eligible(raw: dict[str, Any]) -> None:
            raw["eligibilities"].append({"principal": ANALYSTS_GROUP, "role": USER_ADMIN})

        with pytest.raises(ValueError, match="only role-assignable groups"):
            load_seed(self.seed_with(tmp_path, eligible))

    async def test_the_control_api_gives_no_role_to_a_plain_group(
        self, http: httpx.AsyncClient
    ) -> None:
        body = {"principal": ANALYSTS_GROUP, "role": USER_ADMIN, "directoryScopeId": "/"}

        assert (await http.post("/sandbox/eligibilities", json=body)).status_code == 400

    async def test_nesting_into_a_plain_group_is_followed_transitively(
        self, tmp_path: Path, clock: FakeClock, graph_schema: dict[str, Any]
    ) -> None:
        def nest(raw: dict[str, Any]) -> None:
            [approvers] = [g for g in raw["groups"] if g["displayName"] == "PIM Approvers"]
            approvers["members"].append(ANALYSTS_GROUP)

        tenant = SandboxTenant(load_seed(self.seed_with(tmp_path, nest)), clock)
        token, _ = tenant.tokens.issue("application", tenant.seed.service_principal_id, "x")
        transport = httpx.ASGITransport(create_app(tenant))
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            graph = GraphCaller(http, graph_schema, token)
            groups = await graph.get(f"/v1.0/users/{LEE.id}/transitiveMemberOf", "group")

        names = {g["displayName"] for g in groups.json()["value"]}
        assert names == {"Security Analysts", "Security Operations", "PIM Approvers"}
