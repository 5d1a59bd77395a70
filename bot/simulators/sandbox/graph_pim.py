"""Graph v1.0 PIM: role definitions, schedules, instances, requests, policies."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.simulators.sandbox import policy, render
from bot.simulators.sandbox.errors import GraphFailure, bad_request, forbidden
from bot.simulators.sandbox.model import Assignment, Eligibility, ScheduleRequest
from bot.simulators.sandbox.odata import collection, entity, expands, parse_filter
from bot.simulators.sandbox.permissions import PIM_READERS
from bot.simulators.sandbox.responses import graph_json, require_caller
from bot.simulators.sandbox.tenant import SandboxTenant

RM = "/v1.0/roleManagement/directory"
_PRINCIPAL_FILTER = ("principalId", "roleDefinitionId", "directoryScopeId")


def _tenant(request: Request) -> SandboxTenant:
    require_caller(request)
    tenant: SandboxTenant = request.app.state.tenant
    return tenant


def _page(request: Request, context: str, items: Sequence[dict[str, Any]]) -> JSONResponse:
    return graph_json(collection(request, context, items, request.app.state.page_size))


async def list_role_definitions(request: Request) -> JSONResponse:
    tenant = _tenant(request)
    roles = sorted(tenant.roles.values(), key=lambda r: r.display_name)
    return _page(
        request,
        "roleManagement/directory/roleDefinitions",
        [render.role_definition(r) for r in roles],
    )


async def get_role_definition(request: Request) -> JSONResponse:
    role = _tenant(request).role(request.path_params["ident"])
    return graph_json(
        entity("roleManagement/directory/roleDefinitions", render.role_definition(role), request)
    )


Record = Eligibility | Assignment | ScheduleRequest


def _listing(
    name: str,
    source: Callable[[SandboxTenant], Sequence[Record]],
    show: Callable[[Any], dict[str, Any]],
    *,
    mine: bool = False,
) -> Callable[[Request], Any]:
    """A filterable, expandable, paged collection of PIM records; with `mine`, the
    `filterByCurrentUser(on='principal')` function, which needs a signed-in user."""

    async def endpoint(request: Request) -> JSONResponse:
        tenant = _tenant(request)
        wanted = parse_filter(request.query_params.get("$filter"), _PRINCIPAL_FILTER)
        if mine:
            caller = require_caller(request)
            if caller.kind != "user":
                raise bad_request("filterByCurrentUser requires a delegated (user) token.")
            # The user's own records only: not those of their groups ("When a user gets
            # their role eligibility via group membership, this Microsoft Graph request
            # doesn't return their eligibility", pim-how-to-activate-role).
            wanted["principalId"] = caller.object_id
        else:
            # Anyone's records: a signed-in user needs a reader role, even for a $filter
            # naming themselves (filterByCurrentUser is the way to read one's own).
            _require_pim_reader(request, tenant)
        items = [
            r
            for r in source(tenant)
            if wanted.get("principalId", r.principal_id) == r.principal_id
            and wanted.get("roleDefinitionId", r.role_id) == r.role_id
            and wanted.get("directoryScopeId", r.scope) == r.scope
        ]
        bodies = [_expand(tenant, request, r, show(r)) for r in items]
        return _page(request, f"roleManagement/directory/{name}", bodies)

    return endpoint


def _expand(
    tenant: SandboxTenant, request: Request, record: Record, body: dict[str, Any]
) -> dict[str, Any]:
    wanted = expands(request)
    if "roledefinition" in wanted:
        body["roleDefinition"] = render.role_definition(tenant.role(record.role_id))
    if "principal" in wanted:
        user = tenant.directory.users.get(record.principal_id)
        group = tenant.directory.groups.get(record.principal_id)
        body["principal"] = (
            render.user(user, typed=True, selectable=False)
            if user
            else render.group(group, typed=True)
            if group
            else None
        )
    return body


async def create_request(request: Request) -> JSONResponse:
    caller = require_caller(request)
    tenant: SandboxTenant = request.app.state.tenant
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError as exc:
        raise bad_request("The request body is not valid JSON.") from exc
    created = tenant.submit(body, caller)
    return graph_json(
        entity(
            "roleManagement/directory/roleAssignmentScheduleRequests",
            render.schedule_request(created),
        ),
        status=201,
    )


async def get_request(request: Request) -> JSONResponse:
    tenant = _tenant(request)
    caller = require_caller(request)
    found = tenant.request(request.path_params["ident"])
    mine = caller.object_id in (found.principal_id, found.created_by[1])
    if caller.kind == "user" and not mine:
        _require_pim_reader(request, tenant)  # someone else's request
    return graph_json(
        entity(
            "roleManagement/directory/roleAssignmentScheduleRequests",
            _expand(tenant, request, found, render.schedule_request(found)),
            request,
        )
    )


async def cancel_request(request: Request) -> Response:
    tenant = _tenant(request)
    caller = require_caller(request)
    found = tenant.request(request.path_params["ident"])
    if caller.kind == "user" and found.created_by != ("user", caller.object_id):
        # A signed-in user may cancel only the requests they made themselves.
        raise GraphFailure(403, "Forbidden", "The request was made by someone else.")
    tenant.cancel(found.id)
    return Response(status_code=204)


def _require_pim_reader(request: Request, tenant: SandboxTenant) -> None:
    """A signed-in user reads PIM data beyond their own only while holding a reader role
    (permissions.PIM_READERS); the application's permission was checked already."""
    caller = require_caller(request)
    if caller.kind == "user" and not tenant.holds_role(caller.object_id, PIM_READERS):
        raise forbidden()


async def list_policy_assignments(request: Request) -> JSONResponse:
    tenant = _tenant(request)
    _require_pim_reader(request, tenant)
    wanted = parse_filter(
        request.query_params.get("$filter"), ("scopeId", "scopeType", "roleDefinitionId")
    )
    if wanted.get("scopeId", "/") != "/" or wanted.get("scopeType", "DirectoryRole") != (
        "DirectoryRole"
    ):
        return _page(request, "policies/roleManagementPolicyAssignments", [])
    role_ids = (
        [wanted["roleDefinitionId"]] if "roleDefinitionId" in wanted else sorted(tenant.roles)
    )
    names = {u.id: u.display_name for u in tenant.directory.users.values()}
    expand = expands(request)
    bodies = [
        policy.policy_assignment(
            tenant.tenant_id,
            tenant.role(role_id).id,
            tenant.settings(role_id),
            names,
            expand="policy" in expand,
            expand_rules="rules" in expand,
        )
        for role_id in role_ids
    ]
    return _page(request, "policies/roleManagementPolicyAssignments", bodies)


def _all_requests(tenant: SandboxTenant) -> list[ScheduleRequest]:
    tenant.provision_due()
    return sorted(tenant.requests.values(), key=lambda r: r.created)


_COLLECTIONS: list[tuple[str, Callable[[SandboxTenant], Sequence[Record]], Any]] = [
    (
        "roleEligibilityScheduleInstances",
        SandboxTenant.live_eligibilities,
        render.eligibility_instance,
    ),
    ("roleEligibilitySchedules", SandboxTenant.live_eligibilities, render.eligibility_schedule),
    ("roleAssignmentScheduleInstances", SandboxTenant.live_assignments, render.assignment_instance),
    ("roleAssignmentSchedules", SandboxTenant.live_assignments, render.assignment_schedule),
    ("roleAssignmentScheduleRequests", _all_requests, render.schedule_request),
]
# The directory's role assignments (what is in effect, after propagation): $filter (eq) on
# principalId and roleDefinitionId, e.g. `roleDefinitionId eq '…'` and `principalId eq '…'`
# (https://learn.microsoft.com/graph/api/rbacapplication-list-roleassignments); a signed-in
# user needs a reader role ("Directory Readers, Global Reader, Privileged Role
# Administrator"): the sandbox asks for PIM_READERS, the stricter set.
_ROLE_ASSIGNMENTS = _listing(
    "roleAssignments", SandboxTenant.directory_assignments, render.role_assignment
)
_MINE = "filterByCurrentUser(on='principal')"

ROUTES = (
    [
        Route(f"{RM}/{name}/{_MINE}", _listing(name, src, show, mine=True))
        for name, src, show in _COLLECTIONS
    ]
    + [Route(f"{RM}/{name}", _listing(name, src, show)) for name, src, show in _COLLECTIONS]
    + [
        Route(f"{RM}/roleAssignments", _ROLE_ASSIGNMENTS),
        Route(f"{RM}/roleDefinitions", list_role_definitions),
        Route(f"{RM}/roleDefinitions/{{ident}}", get_role_definition),
        Route(f"{RM}/roleAssignmentScheduleRequests", create_request, methods=["POST"]),
        Route(f"{RM}/roleAssignmentScheduleRequests/{{ident}}", get_request),
        Route(
            f"{RM}/roleAssignmentScheduleRequests/{{ident}}/cancel",
            cancel_request,
            methods=["POST"],
        ),
        Route("/v1.0/policies/roleManagementPolicyAssignments", list_policy_assignments),
    ]
)
