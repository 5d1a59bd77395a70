"""PIM's rules as Graph enforces them, each failure with Graph's code and status."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from bot.simulators.sandbox import SandboxTenant
from tests.support.cast import (
    ADMIN,
    ALEX,
    ALINE,
    DIEGO,
    GLOBAL_ADMIN,
    LEE,
    SECURITY_ADMIN,
    SECURITY_READER,
    USER_ADMIN,
)
from tests.support.clock import FakeClock
from tests.support.graph_caller import REQUESTS, GraphCaller, assert_graph_error, request_body

POLICY_FAILED = "RoleAssignmentRequestPolicyValidationFailed"


def rules_in(message: str) -> list[str]:
    return message.split(": ", 1)[1].strip("[]").replace('"', "").split(",")


class TestSelfActivate:
    async def test_activates_through_a_role_assignable_group(self, graph: GraphCaller) -> None:
        response = await graph.post_request(request_body("selfActivate", ALINE.id, USER_ADMIN))
        assert response.status_code == 201 and response.json()["status"] == "Provisioned"
        [instance] = await graph.instances(ALINE.id)
        assert instance["assignmentType"] == "Activated"
        assert instance["endDateTime"] == "2026-11-29T14:00:00Z"

    async def test_an_activation_through_a_group_says_member_type_group(
        self, graph: GraphCaller
    ) -> None:
        """Lee is eligible through Security Operations only; his activation is his own
        instance, inherited through the group (memberType "Inherited", "Direct" or "Group":
        https://learn.microsoft.com/en-us/graph/api/resources/unifiedroleassignmentscheduleinstance)."""
        body = request_body("selfActivate", LEE.id, SECURITY_ADMIN, ticket="INC-1")
        assert (await graph.post_request(body)).status_code == 201
        [instance] = await graph.instances(LEE.id)
        assert (instance["principalId"], instance["memberType"]) == (LEE.id, "Group")
        direct = await graph.post_request(request_body("selfActivate", DIEGO.id, SECURITY_READER))
        assert direct.status_code == 201
        assert [i["memberType"] for i in await graph.instances(DIEGO.id)] == ["Direct"]

    async def test_accepts_the_tutorials_casing_and_answers_in_metadata_spelling(
        self, graph: GraphCaller
    ) -> None:
        body = request_body("SelfActivate", ALINE.id, USER_ADMIN)
        body["scheduleInfo"]["expiration"]["type"] = "AfterDuration"
        response = await graph.post_request(body)
        assert response.json()["action"] == "selfActivate"
        assert response.json()["scheduleInfo"]["expiration"]["type"] == "afterDuration"

    async def test_refuses_a_user_who_is_not_eligible(self, graph: GraphCaller) -> None:
        response = await graph.post_request(request_body("selfActivate", ALEX.id, USER_ADMIN))
        error = assert_graph_error(response, 400, POLICY_FAILED)
        assert rules_in(error["message"]) == ["EligibilityRule"]

    async def test_refuses_a_duration_over_the_policy_max(self, graph: GraphCaller) -> None:
        body = request_body("selfActivate", ALINE.id, USER_ADMIN, duration="PT9H")
        error = assert_graph_error(await graph.post_request(body), 400, POLICY_FAILED)
        assert rules_in(error["message"]) == ["ExpirationRule"]

    async def test_refuses_a_missing_justification(self, graph: GraphCaller) -> None:
        body = request_body("selfActivate", ALINE.id, USER_ADMIN, justification=None)
        error = assert_graph_error(await graph.post_request(body), 400, POLICY_FAILED)
        assert rules_in(error["message"]) == ["JustificationRule"]

    async def test_refuses_a_missing_ticket_when_required(self, graph: GraphCaller) -> None:
        body = request_body("selfActivate", ALINE.id, SECURITY_ADMIN)
        error = assert_graph_error(await graph.post_request(body), 400, POLICY_FAILED)
        assert rules_in(error["message"]) == ["TicketingRule"]

    async def test_names_every_failed_rule(self, graph: GraphCaller) -> None:
        body = request_body(
            "selfActivate", ALEX.id, SECURITY_ADMIN, duration="PT12H", justification=None
        )
        error = assert_graph_error(await graph.post_request(body), 400, POLICY_FAILED)
        assert rules_in(error["message"]) == [
            "EligibilityRule",
            "ExpirationRule",
            "JustificationRule",
            "TicketingRule",
        ]

    async def test_refuses_an_activation_that_already_exists(self, graph: GraphCaller) -> None:
        body = request_body("selfActivate", ALINE.id, USER_ADMIN)
        assert (await graph.post_request(body)).status_code == 201
        assert_graph_error(await graph.post_request(body), 400, "RoleAssignmentExists")

    async def test_refuses_a_schedule_without_duration(self, graph: GraphCaller) -> None:
        body = request_body(
            "selfActivate",
            ALINE.id,
            USER_ADMIN,
            duration=None,
            expiration={"type": "afterDuration"},
        )
        assert_graph_error(await graph.post_request(body), 400, "InvalidScheduleRequest")

    async def test_a_delegated_token_may_only_activate_for_its_user(
        self, graph: GraphCaller, user_token: Callable[[str], str]
    ) -> None:
        token = user_token(ALEX.id)
        response = await graph.post_request(
            request_body("selfActivate", ALINE.id, USER_ADMIN), token=token
        )
        assert_graph_error(response, 403)
        mine = await graph.post_request(
            request_body("selfActivate", ALINE.id, USER_ADMIN), token=user_token(ALINE.id)
        )
        assert mine.json()["createdBy"]["user"]["id"] == ALINE.id


class TestApproval:
    async def test_pending_until_approved_then_active(
        self, graph: GraphCaller, tenant: SandboxTenant, clock: FakeClock
    ) -> None:
        body = request_body("selfActivate", ALINE.id, GLOBAL_ADMIN, duration="PT2H")
        pending = await graph.post_request(body)
        assert pending.status_code == 201 and pending.json()["status"] == "PendingApproval"
        assert pending.json()["completedDateTime"] is None
        assert [
            i for i in await graph.instances(ALINE.id) if i["roleDefinitionId"] == GLOBAL_ADMIN
        ] == []

        clock.advance(timedelta(minutes=10))
        tenant.approve(pending.json()["id"], reviewer_id=ADMIN.id)
        [instance] = [
            i for i in await graph.instances(ALINE.id) if i["roleDefinitionId"] == GLOBAL_ADMIN
        ]
        assert instance["startDateTime"] == "2026-11-29T09:10:00Z"
        assert instance["endDateTime"] == "2026-11-29T11:10:00Z"
        after = await graph.get(
            f"{REQUESTS}/{pending.json()['id']}", "unifiedRoleAssignmentScheduleRequest"
        )
        assert after.json()["status"] == "Provisioned"

    async def test_a_second_request_while_pending_is_refused(self, graph: GraphCaller) -> None:
        body = request_body("selfActivate", ALINE.id, GLOBAL_ADMIN, duration="PT2H")
        assert (await graph.post_request(body)).json()["status"] == "PendingApproval"
        assert_graph_error(await graph.post_request(body), 400, "PendingRoleAssignmentRequest")

    async def test_over_the_approval_roles_shorter_max(self, graph: GraphCaller) -> None:
        body = request_body("selfActivate", ALINE.id, GLOBAL_ADMIN, duration="PT5H")
        assert_graph_error(await graph.post_request(body), 400, POLICY_FAILED)

    async def test_denied_requests_never_activate(
        self, graph: GraphCaller, tenant: SandboxTenant
    ) -> None:
        pending = await graph.post_request(
            request_body("selfActivate", ALINE.id, GLOBAL_ADMIN, duration="PT1H")
        )
        tenant.deny(pending.json()["id"], justification="not today")
        after = await graph.get(
            f"{REQUESTS}/{pending.json()['id']}", "unifiedRoleAssignmentScheduleRequest"
        )
        assert after.json()["status"] == "Denied"
        assert [
            i for i in await graph.instances(ALINE.id) if i["roleDefinitionId"] == GLOBAL_ADMIN
        ] == []

    async def test_cancel_a_pending_request(self, graph: GraphCaller) -> None:
        pending = await graph.post_request(
            request_body("selfActivate", ALINE.id, GLOBAL_ADMIN, duration="PT1H")
        )
        cancel = await graph.call("POST", f"{REQUESTS}/{pending.json()['id']}/cancel")
        assert cancel.status_code == 204
        after = await graph.get(
            f"{REQUESTS}/{pending.json()['id']}", "unifiedRoleAssignmentScheduleRequest"
        )
        assert after.json()["status"] == "Canceled"

    async def test_a_signed_in_user_cancels_only_their_own_request(
        self, graph: GraphCaller, user_token: Callable[[str], str]
    ) -> None:
        pending = await graph.post_request(
            request_body("selfActivate", ALINE.id, GLOBAL_ADMIN, duration="PT1H"),
            token=user_token(ALINE.id),
        )
        path = f"{REQUESTS}/{pending.json()['id']}/cancel"

        assert_graph_error(await graph.call("POST", path, token=user_token(ALEX.id)), 403)
        assert (await graph.call("POST", path, token=user_token(ALINE.id))).status_code == 204

    async def test_cannot_cancel_a_provisioned_request(self, graph: GraphCaller) -> None:
        done = await graph.post_request(request_body("selfActivate", ALINE.id, USER_ADMIN))
        cancel = await graph.call("POST", f"{REQUESTS}/{done.json()['id']}/cancel")
        assert_graph_error(cancel, 400)

    async def test_unknown_request_is_not_found(self, graph: GraphCaller) -> None:
        missing = await graph.get(f"{REQUESTS}/00000000-0000-0000-0000-000000000000")
        assert_graph_error(missing, 404, "Request_ResourceNotFound")


class TestAdminActions:
    async def test_admin_assign_needs_no_eligibility(self, graph: GraphCaller) -> None:
        response = await graph.post_request(request_body("adminAssign", ALEX.id, USER_ADMIN))
        assert response.status_code == 201
        [instance] = await graph.instances(ALEX.id)
        assert instance["assignmentType"] == "Assigned"

    async def test_admin_assign_obeys_the_admin_justification_rule(
        self, graph: GraphCaller
    ) -> None:
        body = request_body("adminAssign", ALEX.id, USER_ADMIN, justification=None)
        error = assert_graph_error(await graph.post_request(body), 400, POLICY_FAILED)
        assert rules_in(error["message"]) == ["JustificationRule"]

    async def test_admin_assign_obeys_the_admin_expiration_rule(self, graph: GraphCaller) -> None:
        body = request_body("adminAssign", ALEX.id, USER_ADMIN, duration="P181D")
        error = assert_graph_error(await graph.post_request(body), 400, POLICY_FAILED)
        assert rules_in(error["message"]) == ["ExpirationRule"]

    async def test_admin_assign_twice_is_refused(self, graph: GraphCaller) -> None:
        body = request_body("adminAssign", ALINE.id, USER_ADMIN)
        assert (await graph.post_request(body)).status_code == 201
        assert_graph_error(await graph.post_request(body), 400, "RoleAssignmentExists")

    async def test_removing_what_does_not_exist(self, graph: GraphCaller) -> None:
        body = request_body("adminRemove", ALINE.id, USER_ADMIN, duration=None)
        assert_graph_error(await graph.post_request(body), 400, "RoleAssignmentDoesNotExist")

    async def test_self_deactivate_what_is_not_active(self, graph: GraphCaller) -> None:
        body = request_body("selfDeactivate", ALINE.id, USER_ADMIN, duration=None)
        assert_graph_error(await graph.post_request(body), 400, "RoleAssignmentDoesNotExist")

    async def test_self_deactivate_ends_the_activation(
        self, graph: GraphCaller, clock: FakeClock
    ) -> None:
        await graph.post_request(request_body("selfActivate", ALINE.id, USER_ADMIN))
        clock.advance(timedelta(minutes=5))  # PIM's floor (test_strict_rules.py)
        body = request_body("selfDeactivate", ALINE.id, USER_ADMIN, duration=None)
        response = await graph.post_request(body)
        assert response.status_code == 201 and response.json()["status"] == "Revoked"
        assert await graph.instances(ALINE.id) == []

    async def test_deactivating_too_soon_is_always_refused(
        self, graph: GraphCaller, clock: FakeClock
    ) -> None:
        """ "you can't deactivate a role assignment within five minutes after activation"
        (https://learn.microsoft.com/en-us/entra/id-governance/privileged-identity-management/pim-how-to-activate-role)."""
        await graph.post_request(request_body("selfActivate", ALINE.id, USER_ADMIN))
        body = request_body("selfDeactivate", ALINE.id, USER_ADMIN, duration=None)
        assert_graph_error(await graph.post_request(body), 400, "ActiveDurationTooShort")
        clock.advance(timedelta(minutes=5))
        assert (await graph.post_request(body)).status_code == 201

    async def test_unknown_role_is_not_found(self, graph: GraphCaller) -> None:
        body = request_body("adminAssign", ALINE.id, "00000000-0000-0000-0000-000000000000")
        assert_graph_error(await graph.post_request(body), 404, "Request_ResourceNotFound")

    async def test_unknown_action_is_a_bad_request(self, graph: GraphCaller) -> None:
        body = request_body("adminDance", ALINE.id, USER_ADMIN)
        assert_graph_error(await graph.post_request(body), 400, "BadRequest")


class TestExpiry:
    async def test_instances_disappear_at_their_end(
        self, graph: GraphCaller, clock: FakeClock
    ) -> None:
        await graph.post_request(
            request_body("selfActivate", ALINE.id, USER_ADMIN, duration="PT1H")
        )
        clock.advance(timedelta(minutes=59))
        assert len(await graph.instances(ALINE.id)) == 1
        clock.advance(timedelta(minutes=1))
        assert await graph.instances(ALINE.id) == []
        again = await graph.post_request(request_body("selfActivate", ALINE.id, USER_ADMIN))
        assert again.status_code == 201

    async def test_eligibility_ends_after_a_year(
        self, graph: GraphCaller, clock: FakeClock
    ) -> None:
        clock.advance(timedelta(days=366))
        response = await graph.post_request(request_body("selfActivate", ALINE.id, USER_ADMIN))
        assert rules_in(assert_graph_error(response, 400, POLICY_FAILED)["message"]) == [
            "EligibilityRule"
        ]


class TestFutureStart:
    async def test_a_future_activation_is_granted_then_live_and_cancelable(
        self, graph: GraphCaller, clock: FakeClock
    ) -> None:
        body = request_body(
            "selfActivate",
            ALINE.id,
            USER_ADMIN,
            startDateTime="2026-11-29T10:00:00Z",
            expiration={"type": "afterDuration", "duration": "PT1H"},
        )
        granted = await graph.post_request(body)
        assert granted.json()["status"] == "Granted"
        assert await graph.instances(ALINE.id) == []
        clock.advance(timedelta(hours=1))
        [instance] = await graph.instances(ALINE.id)
        assert instance["endDateTime"] == "2026-11-29T11:00:00Z"

    async def test_cancel_a_granted_request_before_it_starts(
        self, graph: GraphCaller, clock: FakeClock
    ) -> None:
        body = request_body(
            "selfActivate",
            ALINE.id,
            USER_ADMIN,
            startDateTime="2026-11-29T10:00:00Z",
            expiration={"type": "afterDuration", "duration": "PT1H"},
        )
        granted = await graph.post_request(body)
        cancel = await graph.call("POST", f"{REQUESTS}/{granted.json()['id']}/cancel")
        assert cancel.status_code == 204
        clock.advance(timedelta(hours=1))
        assert await graph.instances(ALINE.id) == []


async def test_a_provisioning_delay_keeps_the_request_pending_and_no_instance_until_it_passes(
    graph: GraphCaller, tenant: SandboxTenant, clock: FakeClock
) -> None:
    """Entra applies an accepted activation after a while: meanwhile the request says
    PendingProvisioning and no instance exists; then Provisioned, and the instance."""
    tenant.provisioning_delay = timedelta(seconds=90)
    posted = await graph.post_request(request_body("adminAssign", ALINE.id, USER_ADMIN))
    assert posted.status_code == 201 and posted.json()["status"] == "PendingProvisioning"
    assert await graph.instances(ALINE.id) == []

    clock.advance(timedelta(seconds=90))

    seen = await graph.get(
        f"{REQUESTS}/{posted.json()['id']}", "unifiedRoleAssignmentScheduleRequest"
    )
    assert seen.json()["status"] == "Provisioned"
    assert [i["roleDefinitionId"] for i in await graph.instances(ALINE.id)] == [USER_ADMIN]


async def test_the_directory_shows_an_assignment_only_after_the_propagation_delay(
    graph: GraphCaller, tenant: SandboxTenant, clock: FakeClock
) -> None:
    """The schedule instance is there at once; GET roleAssignments (the directory's own
    record) only once propagated ("might have replication delays for role assignments
    that were recently created", rbacapplication-list-transitiveroleassignments)."""
    tenant.propagation_delay = timedelta(seconds=30)
    posted = await graph.post_request(request_body("adminAssign", ALINE.id, USER_ADMIN))
    assert posted.json()["status"] == "Provisioned"
    query = f"principalId eq '{ALINE.id}' and roleDefinitionId eq '{USER_ADMIN}'"

    async def directory() -> list[str]:
        page = await graph.get(
            "/v1.0/roleManagement/directory/roleAssignments",
            "unifiedRoleAssignment",
            **{"$filter": query},
        )
        return [a["directoryScopeId"] for a in page.json()["value"]]

    assert [i["roleDefinitionId"] for i in await graph.instances(ALINE.id)] == [USER_ADMIN]
    assert await directory() == []
    clock.advance(timedelta(seconds=30))
    assert await directory() == ["/"]
