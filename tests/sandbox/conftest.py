"""Fixtures: the seeded sandbox tenant on a FakeClock, its ASGI app, and a small Graph
caller that checks every successful body against Graph's schemas."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from bot.simulators.sandbox import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_TENANT_ID,
    Faults,
    SandboxTenant,
    create_app,
)
from tests.support.clock import FakeClock
from tests.support.graph_schema import assert_graph_valid

PAGE_SIZE = 5
BASE = "https://sandbox.test"
RM = "/v1.0/roleManagement/directory"
REQUESTS = f"{RM}/roleAssignmentScheduleRequests"
TOKEN_PATH = f"/{SANDBOX_TENANT_ID}/oauth2/v2.0/token"

ADMIN = "3fbd929d-8c56-4462-851e-0eb9a7b3a2a5"
ALINE = "7146daa8-1b4b-4a66-b2f7-cf593d03c8d2"
MEGAN = "5d8a3f2e-6c1b-4e7a-9b0d-2f4c6e8a1b01"
ALEX = "5d8a3f2e-6c1b-4e7a-9b0d-2f4c6e8a1b02"
DIEGO = "5d8a3f2e-6c1b-4e7a-9b0d-2f4c6e8a1b03"
LEE = "5d8a3f2e-6c1b-4e7a-9b0d-2f4c6e8a1b05"
HELPDESK_GROUP = "e77cbb23-0ff2-4e18-819c-690f58269752"
SECOPS_GROUP = "8b0f2c4e-3a5d-4f6b-9c1e-7d2a4b6c8e01"
ANALYSTS_GROUP = "8b0f2c4e-3a5d-4f6b-9c1e-7d2a4b6c8e03"
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
SECURITY_ADMIN = "194ae4cb-b126-40b2-bd5b-6091b380977d"
HELPDESK_ADMIN = "729827e3-9c14-49f7-bb1b-9608f156bbb8"

CLIENT_FORM = {
    "grant_type": "client_credentials",
    "client_id": SANDBOX_CLIENT_ID,
    "client_secret": SANDBOX_CLIENT_SECRET,
    "scope": "https://graph.microsoft.com/.default",
}


def request_body(
    action: str,
    principal: str,
    role: str,
    *,
    duration: str | None = "PT5H",
    justification: str | None = "Need it",
    ticket: str | None = None,
    **schedule: Any,
) -> dict[str, Any]:
    """A roleAssignmentScheduleRequest body like the bot sends."""
    body: dict[str, Any] = {
        "action": action,
        "principalId": principal,
        "roleDefinitionId": role,
        "directoryScopeId": "/",
    }
    if justification is not None:
        body["justification"] = justification
    if ticket is not None:
        body["ticketInfo"] = {"ticketNumber": ticket, "ticketSystem": "MS Project"}
    if schedule:
        body["scheduleInfo"] = schedule
    elif duration is not None:
        body["scheduleInfo"] = {"expiration": {"type": "afterDuration", "duration": duration}}
    return body


# What each `@odata.context` holds, so every Graph body a test sees gets validated.
_RM = "roleManagement/directory/"
CONTEXT_TYPES = {
    "users": "user",
    "groups": "group",
    "directoryObjects": "directoryObject.any",
    "policies/roleManagementPolicyAssignments": "unifiedRoleManagementPolicyAssignment",
} | {
    _RM + collection: "unified" + collection[0].upper() + collection[1:].removesuffix("s")
    for collection in (
        "roleDefinitions",
        "roleEligibilityScheduleInstances",
        "roleEligibilitySchedules",
        "roleAssignmentScheduleInstances",
        "roleAssignmentSchedules",
        "roleAssignmentScheduleRequests",
    )
}


def context_type(body: dict[str, Any]) -> str:
    """The Graph type a body holds, read from its `@odata.context`."""
    context = body["@odata.context"].split("$metadata#", 1)[1].removesuffix("/$entity")
    return CONTEXT_TYPES[context]


class GraphCaller:
    """Calls the sandbox like a Graph client would and validates what comes back:
    successes against `type_name`'s schema, errors against Graph's envelope."""

    def __init__(self, http: httpx.AsyncClient, schema: dict[str, Any], token: str) -> None:
        self.http = http
        self.schema = schema
        self.token = token

    async def call(
        self,
        method: str,
        path: str,
        type_name: str | None = None,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        token: str | None = None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        response = await self.http.request(method, path, params=params, json=json, headers=headers)
        assert response.headers.get("request-id")
        if response.status_code < 300 and response.content:
            body = response.json()
            assert_graph_valid(self.schema, type_name or context_type(body), body)
        elif response.status_code >= 400:
            assert_graph_error(response)
        return response

    async def get(self, path: str, type_name: str | None = None, **params: str) -> httpx.Response:
        return await self.call("GET", path, type_name, params=params or None)

    async def post_request(self, body: dict[str, Any], token: str | None = None) -> httpx.Response:
        return await self.call(
            "POST", REQUESTS, "unifiedRoleAssignmentScheduleRequest", json=body, token=token
        )

    async def instances(self, principal: str) -> list[dict[str, Any]]:
        response = await self.get(
            f"{RM}/roleAssignmentScheduleInstances",
            "unifiedRoleAssignmentScheduleInstance",
            **{"$filter": f"principalId eq '{principal}'"},
        )
        assert response.status_code == 200
        value: list[dict[str, Any]] = response.json()["value"]
        return value


def assert_graph_error(
    response: httpx.Response, status: int | None = None, code: str | None = None
) -> dict[str, Any]:
    """Graph's envelope: error.code, error.message, error.innerError.request-id/date."""
    if status is not None:
        assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    assert error["innerError"]["request-id"] == response.headers["request-id"]
    assert error["innerError"]["date"]
    if code is not None:
        assert error["code"] == code, error
    return error


@pytest.fixture
def tenant(clock: FakeClock) -> SandboxTenant:
    tenant = SandboxTenant.from_seed(clock)
    # Tests move the clock by days; token expiry has its own tests (test_login.py).
    tenant.tokens.lifetime = timedelta(days=1000)
    return tenant


@pytest.fixture
def faults() -> Faults:
    return Faults()


@pytest.fixture
def app(tenant: SandboxTenant, faults: Faults) -> Any:
    return create_app(tenant, faults=faults, page_size=PAGE_SIZE)


@pytest.fixture
async def http(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=BASE) as client:
        yield client


@pytest.fixture
async def app_token(http: httpx.AsyncClient) -> str:
    response = await http.post(TOKEN_PATH, data=CLIENT_FORM)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


@pytest.fixture
def graph(http: httpx.AsyncClient, graph_schema: dict[str, Any], app_token: str) -> GraphCaller:
    return GraphCaller(http, graph_schema, app_token)


@pytest.fixture
def user_token(tenant: SandboxTenant) -> Callable[[str], str]:
    """Mint a delegated token for a user (what device-code sign-in will give)."""

    def mint(user_id: str) -> str:
        token, _ = tenant.tokens.issue("user", user_id, tenant.client_id)
        return token

    return mint
