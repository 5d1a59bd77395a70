"""Directory scopes in the sandbox tenant: an eligibility over an administrative unit
activates there and nowhere else; a scope must exist; the $filter on it works."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from bot.simulators.sandbox import SandboxTenant
from tests.support.cast import ALEX, ALINE, USER_ADMIN
from tests.support.clock import FakeClock
from tests.support.graph_caller import RM, GraphCaller, assert_graph_error, request_body

POLICY_FAILED = "RoleAssignmentRequestPolicyValidationFailed"
PASSWORD_ADMIN = "966707d0-3269-4727-9be2-8c3a10f19b9d"
UNIT = "0b7c3a52-7f1e-4c4b-9a57-5b8f0d2e6a11"
SEATTLE = f"/administrativeUnits/{UNIT}"
OTHER_UNIT = "/administrativeUnits/6a1d2c3b-0000-4000-8000-00000000beef"


@pytest.fixture
def scoped(tenant: SandboxTenant) -> SandboxTenant:
    """Alex is eligible for User Administrator over the Seattle Branch unit only."""
    tenant.add_administrative_unit("Seattle Branch", UNIT)
    tenant.add_eligibility(ALEX.id, USER_ADMIN, SEATTLE)
    return tenant


def at(scope: str, action: str, principal: str, role: str, **kw: Any) -> dict[str, Any]:
    return request_body(action, principal, role, **kw) | {"directoryScopeId": scope}


async def instances(graph: GraphCaller, collection: str, query: str) -> list[dict[str, Any]]:
    response = await graph.get(f"{RM}/{collection}", **{"$filter": query})
    assert response.status_code == 200
    value: list[dict[str, Any]] = response.json()["value"]
    return value


class TestSelfActions:
    async def test_activates_at_the_unit_the_user_is_eligible_over(
        self, graph: GraphCaller, scoped: SandboxTenant
    ) -> None:
        response = await graph.post_request(at(SEATTLE, "selfActivate", ALEX.id, USER_ADMIN))

        assert response.status_code == 201 and response.json()["directoryScopeId"] == SEATTLE
        [instance] = await graph.instances(ALEX.id)
        assert instance["directoryScopeId"] == SEATTLE
        assert scoped.live_assignment(ALEX.id, USER_ADMIN, "/") is None

    @pytest.mark.parametrize("scope", ["/", OTHER_UNIT])
    async def test_refuses_a_self_activation_at_a_scope_the_user_is_not_eligible_at(
        self, graph: GraphCaller, scoped: SandboxTenant, scope: str
    ) -> None:
        if scope == OTHER_UNIT:
            scoped.add_administrative_unit("Lyon Office", OTHER_UNIT.rsplit("/", 1)[1])

        response = await graph.post_request(at(scope, "selfActivate", ALEX.id, USER_ADMIN))

        error = assert_graph_error(response, 400, POLICY_FAILED)
        assert "EligibilityRule" in error["message"]
        assert scoped.live_assignment(ALEX.id, USER_ADMIN) is None

    async def test_a_tenant_wide_eligibility_does_not_activate_over_a_unit(
        self, graph: GraphCaller, scoped: SandboxTenant
    ) -> None:
        # Aline is eligible for User Administrator tenant-wide (through IT Helpdesk).
        response = await graph.post_request(at(SEATTLE, "selfActivate", ALINE.id, USER_ADMIN))

        assert_graph_error(response, 400, POLICY_FAILED)

    async def test_deactivating_at_one_scope_leaves_the_role_at_another(
        self, graph: GraphCaller, scoped: SandboxTenant, clock: FakeClock
    ) -> None:
        scoped.add_eligibility(ALEX.id, USER_ADMIN, "/")
        for scope in (SEATTLE, "/"):
            body = at(scope, "selfActivate", ALEX.id, USER_ADMIN)
            assert (await graph.post_request(body)).status_code == 201
        clock.advance(timedelta(minutes=5))  # no deactivation sooner

        removal = at(SEATTLE, "selfDeactivate", ALEX.id, USER_ADMIN, duration=None)
        assert (await graph.post_request(removal)).status_code == 201

        assert scoped.live_assignment(ALEX.id, USER_ADMIN, SEATTLE) is None
        assert scoped.live_assignment(ALEX.id, USER_ADMIN, "/") is not None


class TestScopes:
    async def test_admin_assign_at_an_existing_unit_is_scoped_there(
        self, graph: GraphCaller, scoped: SandboxTenant
    ) -> None:
        response = await graph.post_request(at(SEATTLE, "adminAssign", ALINE.id, PASSWORD_ADMIN))

        assert response.status_code == 201
        live = scoped.live_assignment(ALINE.id, PASSWORD_ADMIN)
        assert live is not None and live.scope == SEATTLE

    async def test_refuses_a_unit_the_tenant_does_not_have(
        self, graph: GraphCaller, scoped: SandboxTenant
    ) -> None:
        response = await graph.post_request(at(OTHER_UNIT, "adminAssign", ALINE.id, PASSWORD_ADMIN))

        assert_graph_error(response, 400, "InvalidDirectoryScope")
        assert scoped.live_assignment(ALINE.id, PASSWORD_ADMIN) is None

    @pytest.mark.parametrize(
        "change",
        [
            {"directoryScopeId": None},
            {"directoryScopeId": "administrativeUnits/x"},
            {"directoryScopeId": "/administrativeUnits/"},
            {"directoryScopeId": "/", "appScopeId": "/"},
        ],
    )
    async def test_refuses_a_missing_malformed_or_app_scope(
        self, graph: GraphCaller, change: dict[str, Any]
    ) -> None:
        body = request_body("adminAssign", ALINE.id, PASSWORD_ADMIN) | change

        response = await graph.post_request(body)

        assert response.status_code == 400

    async def test_filter_on_directory_scope_id_lists_only_that_scope(
        self, graph: GraphCaller, scoped: SandboxTenant
    ) -> None:
        scoped.add_eligibility(ALEX.id, USER_ADMIN, "/")
        collection = "roleEligibilityScheduleInstances"
        mine = f"principalId eq '{ALEX.id}'"

        over_unit = await instances(
            graph, collection, f"{mine} and directoryScopeId eq '{SEATTLE}'"
        )
        tenant_wide = await instances(graph, collection, f"{mine} and directoryScopeId eq '/'")

        assert [i["directoryScopeId"] for i in over_unit] == [SEATTLE]
        assert [i["directoryScopeId"] for i in tenant_wide] == ["/"]


class TestAdministrativeUnits:
    async def test_units_are_listed_and_read_by_id(
        self, graph: GraphCaller, scoped: SandboxTenant
    ) -> None:
        listed = await graph.get("/v1.0/directory/administrativeUnits")
        one = await graph.get(f"/v1.0/directory/administrativeUnits/{UNIT}")

        # The seed's Paris Office, and the unit this test added.
        names = [u["displayName"] for u in listed.json()["value"]]
        assert names == ["Paris Office", "Seattle Branch"]
        assert (one.json()["id"], one.json()["displayName"]) == (UNIT, "Seattle Branch")

    async def test_an_unknown_unit_is_not_found(self, graph: GraphCaller) -> None:
        response = await graph.get(f"/v1.0/directory/administrativeUnits/{UNIT}")

        assert_graph_error(response, 404, "Request_ResourceNotFound")

    async def test_the_control_api_adds_a_unit_and_a_scoped_eligibility(
        self, http: httpx.AsyncClient, graph: GraphCaller, tenant: SandboxTenant
    ) -> None:
        unit = await http.post("/sandbox/administrativeUnits", json={"displayName": "Lyon"})
        scope = f"/administrativeUnits/{unit.json()['id']}"
        added = await http.post(
            "/sandbox/eligibilities",
            json={
                "principal": "AlexW@m365x435773.onmicrosoft.com",
                "role": USER_ADMIN,
                "directoryScopeId": scope,
                "duration": "P30D",
            },
        )
        unknown = await http.post(
            "/sandbox/eligibilities",
            json={"principal": ALEX.id, "role": USER_ADMIN, "directoryScopeId": OTHER_UNIT},
        )

        assert unit.status_code == added.status_code == 201
        assert added.json()["directoryScopeId"] == scope
        assert unknown.status_code == 400
        [eligible] = await instances(
            graph, "roleEligibilityScheduleInstances", f"principalId eq '{ALEX.id}'"
        )
        assert eligible["directoryScopeId"] == scope
        tenant.reset()
        assert [u.display_name for u in tenant.administrative_units.values()] == ["Paris Office"]
        assert not tenant.scope_exists(scope)
