"""The Entra-like login endpoints and Graph's 401s."""

from __future__ import annotations

from datetime import timedelta

import httpx

from bot.simulators.sandbox import SANDBOX_TENANT_ID, SandboxTenant
from tests.support.clock import FakeClock
from tests.support.graph_caller import (
    BASE,
    CLIENT_FORM,
    TOKEN_PATH,
    GraphCaller,
    assert_graph_error,
)


async def test_openid_configuration_points_at_the_sandbox(http: httpx.AsyncClient) -> None:
    config = (await http.get(f"/{SANDBOX_TENANT_ID}/v2.0/.well-known/openid-configuration")).json()
    assert config["issuer"] == f"{BASE}/{SANDBOX_TENANT_ID}/v2.0"
    assert config["token_endpoint"] == f"{BASE}{TOKEN_PATH}"
    assert config["authorization_endpoint"].startswith(BASE)
    assert config["device_authorization_endpoint"].startswith(BASE)


async def test_unknown_tenant_has_no_configuration(http: httpx.AsyncClient) -> None:
    response = await http.get("/contoso-nope/v2.0/.well-known/openid-configuration")
    assert response.status_code == 400 and "AADSTS90002" in response.json()["error_description"]


async def test_instance_discovery_vouches_for_the_sandbox(http: httpx.AsyncClient) -> None:
    authorize = f"{BASE}/{SANDBOX_TENANT_ID}/oauth2/v2.0/authorize"
    response = await http.get(
        "/common/discovery/instance",
        params={"authorization_endpoint": authorize, "api-version": "1.0"},
    )
    body = response.json()
    assert body["tenant_discovery_endpoint"] == (
        f"{BASE}/{SANDBOX_TENANT_ID}/v2.0/.well-known/openid-configuration"
    )
    assert body["metadata"][0]["aliases"] == ["sandbox.test"]


async def test_client_credentials_give_a_bearer_token(http: httpx.AsyncClient) -> None:
    body = (await http.post(TOKEN_PATH, data=CLIENT_FORM)).json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0 and body["access_token"]


async def test_wrong_secret_is_invalid_client(http: httpx.AsyncClient) -> None:
    response = await http.post(TOKEN_PATH, data=CLIENT_FORM | {"client_secret": "guess"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.json()["error_codes"] == [7000215]


async def test_unknown_client_is_refused(http: httpx.AsyncClient) -> None:
    response = await http.post(TOKEN_PATH, data=CLIENT_FORM | {"client_id": "someone-else"})
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"


async def test_other_grants_are_unsupported(http: httpx.AsyncClient) -> None:
    response = await http.post(TOKEN_PATH, data=CLIENT_FORM | {"grant_type": "password"})
    assert response.json()["error"] == "unsupported_grant_type"


async def test_scope_must_be_dot_default(http: httpx.AsyncClient) -> None:
    response = await http.post(TOKEN_PATH, data=CLIENT_FORM | {"scope": "User.Read"})
    assert response.json()["error"] == "invalid_scope"


class TestGraphNeedsAToken:
    async def test_no_token(self, http: httpx.AsyncClient) -> None:
        response = await http.get("/v1.0/users")
        assert_graph_error(response, 401, "InvalidAuthenticationToken")
        assert response.headers["www-authenticate"].startswith("Bearer")

    async def test_unknown_token(self, graph: GraphCaller) -> None:
        response = await graph.call("GET", "/v1.0/users", token="not-a-token")
        assert_graph_error(response, 401, "InvalidAuthenticationToken")

    async def test_expired_token(
        self, http: httpx.AsyncClient, graph: GraphCaller, tenant: SandboxTenant, clock: FakeClock
    ) -> None:
        tenant.tokens.lifetime = timedelta(hours=1)
        token = (await http.post(TOKEN_PATH, data=CLIENT_FORM)).json()["access_token"]
        assert (await graph.call("GET", "/v1.0/users", token=token)).status_code == 200
        clock.advance(timedelta(hours=1))
        expired = await graph.call("GET", "/v1.0/users", token=token)
        assert_graph_error(expired, 401, "InvalidAuthenticationToken")

    async def test_every_pim_collection_needs_a_token(self, http: httpx.AsyncClient) -> None:
        for path in (
            "/v1.0/roleManagement/directory/roleDefinitions",
            "/v1.0/roleManagement/directory/roleEligibilityScheduleInstances",
            "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests",
            "/v1.0/policies/roleManagementPolicyAssignments",
        ):
            assert_graph_error(await http.get(path), 401, "InvalidAuthenticationToken")
        posted = await http.post(
            "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests", json={}
        )
        assert_graph_error(posted, 401, "InvalidAuthenticationToken")

    async def test_unknown_segments_use_the_envelope(self, graph: GraphCaller) -> None:
        assert_graph_error(await graph.get("/v1.0/nothingHere"), 400, "BadRequest")
