"""Calling the sandbox tenant like a Graph client and checking what comes back against
Graph's schemas (the sandbox tests' `graph` fixture is a GraphCaller)."""

from __future__ import annotations

from typing import Any

import httpx

from bot.simulators.sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_TENANT_ID
from tests.support.graph_schema import assert_graph_valid

PAGE_SIZE = 5
BASE = "https://sandbox.test"
RM = "/v1.0/roleManagement/directory"
REQUESTS = f"{RM}/roleAssignmentScheduleRequests"
TOKEN_PATH = f"/{SANDBOX_TENANT_ID}/oauth2/v2.0/token"


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
    "directory/administrativeUnits": "administrativeUnit",
} | {
    _RM + collection: "unified" + collection[0].upper() + collection[1:].removesuffix("s")
    for collection in (
        "roleDefinitions",
        "roleEligibilityScheduleInstances",
        "roleEligibilitySchedules",
        "roleAssignmentScheduleInstances",
        "roleAssignmentSchedules",
        "roleAssignmentScheduleRequests",
        "roleAssignments",
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
