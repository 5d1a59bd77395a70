"""GraphPim over a MockTransport: the exact calls and bodies it sends, and the mapping."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.domain.models import (
    ActivationSpec,
    ApproverKind,
    ApproverRef,
    RequestAction,
    Role,
    Ticket,
)
from bot.domain.targets import Scope, Target, TargetKind
from bot.errors import ConfigError
from bot.graph import build_graph
from bot.graph.auth import AccessToken
from bot.graph.models import ScheduleRequestBody, ScheduleRequestOut
from bot.graph.pim import GraphPim, Identity
from bot.graph.recovery import same_submission
from bot.settings import Settings
from tests.support.cast import USER_ADMIN
from tests.support.clock import FakeClock
from tests.support.graph_fakes import Recorder, assert_request_valid, make_client
from tests.support.settings import make_settings

RM = "/v1.0/roleManagement/directory"
ELIGIBLE = f"{RM}/roleEligibilityScheduleInstances"
ALINE = "aline-id"
HELPDESK = "helpdesk-group-id"
NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
UNIT = "0b7c3a52-7f1e-4c4b-9a57-5b8f0d2e6a11"
TARGET = Target(TargetKind.DIRECTORY_ROLE, Role(USER_ADMIN, "User Administrator"), Scope("/"))


class FakeGraph:
    """Answers GETs from `routes` (path, $filter) and creates schedule requests on POST."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self.routes: dict[tuple[str, str | None], Any] = {}
        self.created: list[dict[str, Any]] = []
        self.lose_next_response = False
        self.server_start: str | None = None  # Graph moves a past start up to its own now

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path, filt = request.url.path, request.url.params.get("$filter")
        if request.method == "POST" and path.endswith("/cancel"):
            return httpx.Response(204)
        if request.method == "POST":
            return self._create(json.loads(request.content))
        if path == f"{RM}/roleAssignmentScheduleRequests":
            return httpx.Response(200, json={"value": self.created})
        answer = self.routes.get((path, filt), self.routes.get((path, None)))
        if answer is None:
            return httpx.Response(404, json={"error": {"code": "NotFound", "message": path}})
        return httpx.Response(200, json=answer)

    def _create(self, body: dict[str, Any]) -> httpx.Response:
        assert_request_valid(self.schema, body)  # every body GraphPim sends, in every test
        item = {**body, "id": f"req-{len(self.created) + 1}", "status": "Provisioned"}
        item["createdDateTime"] = "2026-11-29T09:00:00Z"
        if self.server_start and "scheduleInfo" in item:
            item["scheduleInfo"] = {**item["scheduleInfo"], "startDateTime": self.server_start}
        self.created.append(item)
        if self.lose_next_response:
            self.lose_next_response = False
            raise httpx.ReadTimeout("response lost")
        return httpx.Response(201, json=item)


def instance(principal: str, start: str, end: str | None, **extra: str) -> dict[str, Any]:
    return {
        "id": f"inst-{principal}",
        "principalId": principal,
        "roleDefinitionId": USER_ADMIN,
        "directoryScopeId": "/",
        "startDateTime": start,
        "endDateTime": end,
        **extra,
    }


@pytest.fixture
def graph(graph_schema: dict[str, Any]) -> FakeGraph:
    fake = FakeGraph(graph_schema)
    # The role-assignable groups the user is a direct member of (an OData cast + filter).
    groups = f"/v1.0/users/{ALINE}/memberOf/microsoft.graph.group"
    fake.routes[(groups, "isAssignableToRole eq true")] = {
        "@odata.count": 1,
        "value": [{"id": HELPDESK, "displayName": "IT Helpdesk (User)"}],
    }
    return fake


def make_pim(graph: FakeGraph, identity: Identity = "application") -> tuple[GraphPim, Recorder]:
    rec = Recorder(graph)
    return GraphPim(make_client(rec), identity=identity, clock=FakeClock(NOW)), rec


def posts(rec: Recorder, schema: dict[str, Any]) -> list[dict[str, Any]]:
    """Every POST body sent, each validated against Graph's schema."""
    bodies = rec.bodies("POST")
    for body in bodies:
        assert_request_valid(schema, body)
    return bodies


SPEC = ActivationSpec(
    principal_id=ALINE,
    target=TARGET,
    duration=timedelta(hours=5),
    justification="Need to invalidate all app refresh tokens for Sara using PowerShell.",
    ticket=Ticket("CONTOSO:Security-012345", "CONTOSO"),
)


class TestActivate:
    async def test_application_identity_sends_admin_assign_for_five_hours(
        self, graph: FakeGraph, graph_schema: dict[str, Any]
    ) -> None:
        pim, rec = make_pim(graph)
        result = await pim.activate(SPEC)
        [body] = posts(rec, graph_schema)
        assert rec.requests[0].url.path == f"{RM}/roleAssignmentScheduleRequests"
        assert body == {
            "action": "adminAssign",
            "principalId": ALINE,
            "roleDefinitionId": USER_ADMIN,
            "directoryScopeId": "/",
            "justification": SPEC.justification,
            "scheduleInfo": {
                "startDateTime": "2026-11-29T09:00:00Z",
                "expiration": {"type": "afterDuration", "duration": "PT5H"},
            },
            "ticketInfo": {"ticketNumber": "CONTOSO:Security-012345", "ticketSystem": "CONTOSO"},
        }
        assert (result.id, result.status, result.action) == ("req-1", "Provisioned", "adminAssign")
        assert result.end == NOW + timedelta(hours=5)
        assert result.ticket == SPEC.ticket

    async def test_user_identity_sends_self_activate(
        self, graph: FakeGraph, graph_schema: dict[str, Any]
    ) -> None:
        pim, rec = make_pim(graph, "user")
        await pim.activate(SPEC)
        assert posts(rec, graph_schema)[0]["action"] == "selfActivate"

    async def test_lost_response_is_recovered_without_a_second_post(
        self, graph: FakeGraph, graph_schema: dict[str, Any]
    ) -> None:
        pim, rec = make_pim(graph)
        graph.lose_next_response = True
        result = await pim.activate(SPEC)
        assert len(posts(rec, graph_schema)) == 1 and len(graph.created) == 1
        assert result.id == "req-1"

    async def test_recovery_allows_for_graph_moving_the_start_later(
        self, graph: FakeGraph, graph_schema: dict[str, Any]
    ) -> None:
        pim, rec = make_pim(graph)
        graph.lose_next_response, graph.server_start = True, "2026-11-29T09:00:02.5Z"
        result = await pim.activate(SPEC)
        assert result.id == "req-1" and len(posts(rec, graph_schema)) == 1

    async def test_an_older_identical_request_is_not_mistaken_for_this_one(
        self, graph: FakeGraph, graph_schema: dict[str, Any]
    ) -> None:
        pim, rec = make_pim(graph)
        await pim.activate(SPEC)
        pim._clock = FakeClock(NOW + timedelta(hours=6))
        graph.lose_next_response = True
        result = await pim.activate(SPEC)
        assert result.id == "req-2"
        assert len(graph.created) == 2
        assert len(posts(rec, graph_schema)) == 2

    def test_a_request_at_another_scope_is_not_mistaken_for_this_one(self) -> None:
        unit = replace(TARGET, scope=Scope(f"/administrativeUnits/{UNIT}"))
        sent = make_pim_body(unit)
        echoed = {**sent.to_json(), "id": "req-9", "status": "Provisioned"}
        at_tenant = {**echoed, "directoryScopeId": "/"}

        assert same_submission(sent, ScheduleRequestOut.model_validate(echoed))
        assert not same_submission(sent, ScheduleRequestOut.model_validate(at_tenant))

    def test_a_removal_is_matched_although_graph_echoes_a_schedule_it_filled_in(self) -> None:
        """A removal is sent with no scheduleInfo; Graph answers with one of its own
        (its start, `noExpiration`). The reasons still decide."""
        pim = GraphPim(make_client(Recorder(lambda r: httpx.Response(500))), clock=FakeClock(NOW))
        sent = pim._body(RequestAction.ADMIN_REMOVE, ALINE, TARGET, "done")
        filled = {"startDateTime": "2026-11-29T09:10:00Z", "expiration": {"type": "noExpiration"}}
        echoed = {**sent.to_json(), "id": "req-3", "status": "Revoked", "scheduleInfo": filled}
        other = {**echoed, "justification": "another removal"}

        assert same_submission(sent, ScheduleRequestOut.model_validate(echoed))
        assert not same_submission(sent, ScheduleRequestOut.model_validate(other))


def make_pim_body(target: Target) -> ScheduleRequestBody:
    pim = GraphPim(make_client(Recorder(lambda r: httpx.Response(500))), clock=FakeClock(NOW))
    return pim._body(RequestAction.ADMIN_ASSIGN, ALINE, target, "why")


class TestDeactivateAndExtend:
    async def test_deactivate_sends_admin_remove(
        self, graph: FakeGraph, graph_schema: dict[str, Any]
    ) -> None:
        pim, rec = make_pim(graph)
        result = await pim.deactivate(ALINE, TARGET, "done")
        [body] = posts(rec, graph_schema)
        assert body == {
            "action": "adminRemove",
            "principalId": ALINE,
            "roleDefinitionId": USER_ADMIN,
            "directoryScopeId": "/",
            "justification": "done",
        }
        assert result.action == "adminRemove"

    async def test_user_identity_deactivates_with_self_deactivate(
        self, graph: FakeGraph, graph_schema: dict[str, Any]
    ) -> None:
        pim, rec = make_pim(graph, "user")
        await pim.deactivate(ALINE, TARGET)
        assert posts(rec, graph_schema)[0]["action"] == "selfDeactivate"

    async def test_lost_deactivate_response_is_recovered_once_the_role_is_gone(
        self, graph: FakeGraph, graph_schema: dict[str, Any]
    ) -> None:
        graph.routes[(f"{RM}/roleAssignmentScheduleInstances", None)] = {"value": []}
        pim, rec = make_pim(graph)
        graph.lose_next_response = True
        result = await pim.deactivate(ALINE, TARGET, "done")
        assert result.id == "req-1" and len(posts(rec, graph_schema)) == 1

    async def test_cancel_posts_the_bound_action(self, graph: FakeGraph) -> None:
        pim, rec = make_pim(graph)
        await pim.cancel_request("req/1")
        assert (
            rec.requests[-1]
            .url.raw_path.decode()
            .endswith("/roleAssignmentScheduleRequests/req%2F1/cancel")
        )


class TestReads:
    async def test_eligibilities_are_own_plus_those_of_the_users_groups(
        self, graph: FakeGraph
    ) -> None:
        # Application mode: one unfiltered (paged) read of the tenant's eligibilities, and
        # the user's groups; someone else's eligibility is not the user's.
        graph.routes[(ELIGIBLE, None)] = {
            "value": [
                instance(HELPDESK, "2026-01-01T00:00:00Z", None, memberType="Direct"),
                {**instance("bob-id", "2026-01-01T00:00:00Z", None), "id": "inst-bob"},
            ]
        }
        pim, rec = make_pim(graph)
        [found] = await pim.list_eligibilities(ALINE)
        assert found.role_id == USER_ADMIN
        assert (found.via_group_id, found.via_group_name) == (HELPDESK, "IT Helpdesk (User)")
        assert found.end is None
        [groups] = [r for r in rec.requests if "memberOf" in r.url.path]
        assert groups.headers["ConsistencyLevel"] == "eventual"  # an advanced query
        assert groups.url.params["$count"] == "true"
        [tenant] = [r for r in rec.requests if r.url.path == ELIGIBLE]
        assert "$filter" not in tenant.url.params  # one read for the tenant, not per group

    async def test_eligibilities_carry_their_scope_and_an_app_scoped_one_is_left_out(
        self, graph: FakeGraph
    ) -> None:
        unit = f"/administrativeUnits/{UNIT}"
        graph.routes[(ELIGIBLE, None)] = {
            "value": [
                {**instance(ALINE, "2026-01-01T00:00:00Z", None), "directoryScopeId": unit},
                {
                    **instance(ALINE, "2026-01-01T00:00:00Z", None),
                    "id": "app-scoped",
                    "directoryScopeId": None,
                    "appScopeId": "/",
                },
            ]
        }
        graph.routes[(f"/v1.0/directory/administrativeUnits/{UNIT}", None)] = {
            "id": UNIT,
            "displayName": "Seattle Branch",
        }
        pim, _ = make_pim(graph)

        [found] = await pim.list_eligibilities(ALINE)

        assert found.kind is TargetKind.DIRECTORY_ROLE
        assert (found.scope.id, found.scope.display_name) == (unit, "Seattle Branch")

    async def test_active_lists_assignment_instances(self, graph: FakeGraph) -> None:
        active = f"{RM}/roleAssignmentScheduleInstances"
        graph.routes[(active, f"principalId eq '{ALINE}'")] = {
            "value": [
                instance(
                    ALINE,
                    "2026-11-29T09:00:00.1234567Z",
                    "2026-11-29T14:00:00Z",
                    assignmentType="Activated",
                )
            ]
        }
        graph.routes[(active, f"principalId eq '{HELPDESK}'")] = {"value": []}
        pim, _ = make_pim(graph)
        [found] = await pim.list_active(ALINE)
        assert found.assignment_type == "Activated"
        assert found.remaining(NOW) == timedelta(hours=5)

    async def test_policy_rules_become_a_role_policy(self, graph: FakeGraph) -> None:
        graph.routes[("/v1.0/policies/roleManagementPolicyAssignments", None)] = {
            "value": [{"policy": {"rules": POLICY_RULES}}]
        }
        pim, rec = make_pim(graph)
        policy = await pim.get_policy(USER_ADMIN)
        params = rec.requests[0].url.params
        assert params["$filter"] == (
            "scopeId eq '/' and scopeType eq 'DirectoryRole' "
            f"and roleDefinitionId eq '{USER_ADMIN}'"
        )
        assert params["$expand"] == "policy($expand=rules)"
        assert policy.max_duration == timedelta(hours=5)
        assert policy.justification_required and policy.ticket_required
        assert not policy.mfa_required
        assert policy.approval_required
        assert policy.approvers == (
            ApproverRef(ApproverKind.ENTRA_USER, "u-1", "Approver One"),
            ApproverRef(ApproverKind.ENTRA_GROUP, "g-1", "Approvers"),
        )

    async def test_a_role_without_policy_gets_entra_defaults(self, graph: FakeGraph) -> None:
        graph.routes[("/v1.0/policies/roleManagementPolicyAssignments", None)] = {"value": []}
        pim, _ = make_pim(graph)
        assert (await pim.get_policy(USER_ADMIN)).max_duration == timedelta(hours=8)

    async def test_email_lookup_escapes_quotes(self, graph: FakeGraph) -> None:
        graph.routes[("/v1.0/users", "mail eq 'o''brien@contoso.com'")] = {
            "value": [{"id": "u", "displayName": "O'Brien", "userPrincipalName": "ob@contoso.com"}]
        }
        pim, _ = make_pim(graph)
        user = await pim.find_user_by_email("o'brien@contoso.com")
        assert user is not None and user.user_principal_name == "ob@contoso.com"

    async def test_email_lookup_falls_back_to_upn_then_none(self, graph: FakeGraph) -> None:
        graph.routes[("/v1.0/users", None)] = {"value": []}
        pim, rec = make_pim(graph)
        assert await pim.find_user_by_email("nobody@contoso.com") is None
        filters = [r.url.params["$filter"] for r in rec.requests]
        assert filters == [
            "mail eq 'nobody@contoso.com'",
            "userPrincipalName eq 'nobody@contoso.com'",
        ]

    async def test_get_user_encodes_the_upn(self, graph: FakeGraph) -> None:
        upn = "guest_fabrikam.com#EXT#@contoso.onmicrosoft.com"
        graph.routes[(f"/v1.0/users/{upn}", None)] = {
            "id": "g",
            "displayName": "Guest",
            "userPrincipalName": upn,
            "mail": None,
        }
        pim, rec = make_pim(graph)
        assert (await pim.get_user(upn)).id == "g"
        assert b"%23EXT%23" in rec.requests[0].url.raw_path

    async def test_group_members_are_users_only(self, graph: FakeGraph) -> None:
        graph.routes[("/v1.0/groups/g-1/transitiveMembers", None)] = {
            "value": [
                {
                    "@odata.type": "#microsoft.graph.user",
                    "id": "u",
                    "displayName": "U",
                    "userPrincipalName": "u@c.com",
                },
                {"@odata.type": "#microsoft.graph.group", "id": "g-2", "displayName": "Nested"},
            ]
        }
        pim, _ = make_pim(graph)
        assert [u.id for u in await pim.list_group_members("g-1")] == ["u"]

    async def test_role_definitions_use_template_ids(self, graph: FakeGraph) -> None:
        graph.routes[(f"{RM}/roleDefinitions", None)] = {
            "value": [{"id": "x", "displayName": "User Administrator", "templateId": USER_ADMIN}]
        }
        pim, _ = make_pim(graph)
        [role] = await pim.list_role_definitions()
        assert (role.id, role.display_name) == (USER_ADMIN, "User Administrator")

    async def test_check_token_makes_one_cheap_read(self, graph: FakeGraph) -> None:
        graph.routes[(f"{RM}/roleDefinitions", None)] = {"value": [{"id": "x"}]}
        pim, rec = make_pim(graph)
        await pim.check_token()
        assert len(rec.requests) == 1
        assert rec.requests[0].headers["Authorization"].startswith("Bearer ")

    async def test_list_requests_maps_graph_requests(self, graph: FakeGraph) -> None:
        pim, _ = make_pim(graph)
        await pim.activate(SPEC)
        [found] = await pim.list_requests(ALINE)
        assert (found.id, found.role_id, found.duration) == (
            "req-1",
            USER_ADMIN,
            timedelta(hours=5),
        )


POLICY_RULES: list[dict[str, Any]] = [
    {
        "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule",
        "id": "Expiration_EndUser_Assignment",
        "isExpirationRequired": True,
        "maximumDuration": "PT5H",
    },
    {
        "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
        "id": "Enablement_EndUser_Assignment",
        "enabledRules": ["Justification", "Ticketing"],
    },
    {
        "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule",
        "id": "Approval_EndUser_Assignment",
        "setting": {
            "isApprovalRequired": True,
            "approvalStages": [
                {
                    "primaryApprovers": [
                        {
                            "@odata.type": "#microsoft.graph.singleUser",
                            "userId": "u-1",
                            "description": "Approver One",
                        },
                        {
                            "@odata.type": "#microsoft.graph.groupMembers",
                            "groupId": "g-1",
                            "description": "Approvers",
                        },
                    ]
                }
            ],
        },
    },
]


class TestBuildGraph:
    def _settings(self, tmp_path: Path, **values: Any) -> Settings:
        base: dict[str, Any] = {
            "azure_tenant_id": "tenant",
            "azure_client_id": "client",
            "azure_client_secret": "s3cret",
            "pim_graph_url": "https://graph.test/",
        }
        return make_settings(policy=tmp_path / "pimbot.yml", **{**base, **values})

    async def test_wires_base_url_auth_and_identity_without_network(self, tmp_path: Path) -> None:
        seen: list[httpx.Request] = []

        def graph(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(200, json={"value": []})

        pim = build_graph(
            self._settings(tmp_path),
            identity="user",  # passed down from pimbot.yml, never re-read here
            transport=httpx.MockTransport(graph),
            credential=lambda *, force_refresh: AccessToken("tok", 3600),
        )
        assert pim.identity == "user" and seen == []  # nothing happens until a call
        await pim.check_token()
        await pim.aclose()
        assert str(seen[0].url).startswith("https://graph.test/v1.0/roleManagement/directory/")
        assert seen[0].headers["Authorization"] == "Bearer tok"

    def test_without_an_app_registration_it_is_a_config_error(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError):
            build_graph(self._settings(tmp_path, azure_client_id=None))
