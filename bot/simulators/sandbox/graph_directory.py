"""Graph v1.0 directory reads: users, groups, memberships."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.simulators.sandbox import render
from bot.simulators.sandbox.errors import bad_request, not_found
from bot.simulators.sandbox.model import Group, User
from bot.simulators.sandbox.odata import collection, entity, parse_filter
from bot.simulators.sandbox.responses import graph_json, require_caller
from bot.simulators.sandbox.tenant import SandboxTenant


def _tenant(request: Request) -> SandboxTenant:
    require_caller(request)
    tenant: SandboxTenant = request.app.state.tenant
    return tenant


def _page(request: Request, context: str, items: list[dict[str, object]]) -> JSONResponse:
    return graph_json(collection(request, context, items, request.app.state.page_size))


def _user(tenant: SandboxTenant, ident: str) -> User:
    found = tenant.directory.user(ident)
    if found is None:
        raise not_found("user", ident)
    return found


def _group(tenant: SandboxTenant, ident: str) -> Group:
    found = tenant.directory.groups.get(ident)
    if found is None:
        raise not_found("group", ident)
    return found


async def list_users(request: Request) -> JSONResponse:
    tenant = _tenant(request)
    wanted = parse_filter(request.query_params.get("$filter"), ("mail", "userPrincipalName"))
    users = [
        u
        for u in sorted(tenant.directory.users.values(), key=lambda u: u.display_name)
        if ("mail" not in wanted or (u.mail or "").lower() == wanted["mail"].lower())
        and (
            "userPrincipalName" not in wanted
            or u.upn.lower() == wanted["userPrincipalName"].lower()
        )
    ]
    return _page(request, "users", [render.user(u) for u in users])


async def get_user(request: Request) -> JSONResponse:
    found = _user(_tenant(request), request.path_params["ident"])
    return graph_json(entity("users", render.user(found), request))


async def me(request: Request) -> JSONResponse:
    caller = require_caller(request)
    if caller.kind != "user":
        # Graph's answer to /me with an app-only token.
        raise bad_request("/me request is only valid with delegated authentication flow.")
    found = _user(_tenant(request), caller.object_id)
    return graph_json(entity("users", render.user(found), request))


async def member_of(request: Request) -> JSONResponse:
    tenant = _tenant(request)
    found = _user(tenant, request.path_params["ident"])
    transitive = request.url.path.endswith("/transitiveMemberOf")
    groups = tenant.directory.member_of(found.id, transitive=transitive)
    return _page(request, "directoryObjects", [render.group(g, typed=True) for g in groups])


_ROLE_ASSIGNABLE = re.compile(r"\s*isAssignableToRole\s+eq\s+true\s*", re.IGNORECASE)


async def member_groups(request: Request) -> JSONResponse:
    """`/users/{id}/memberOf/microsoft.graph.group`: the user's direct groups (an OData
    cast). A $filter here is an advanced query, which Graph serves only with
    `ConsistencyLevel: eventual` and `$count=true`
    (https://learn.microsoft.com/en-us/graph/api/user-list-memberof); the one filter the
    sandbox understands is `isAssignableToRole eq true`."""
    tenant = _tenant(request)
    found = _user(tenant, request.path_params["ident"])
    groups = tenant.directory.member_of(found.id, transitive=False)
    wanted = request.query_params.get("$filter")
    if wanted is not None:
        advanced = request.headers.get("consistencylevel", "").lower() == "eventual"
        if not advanced or request.query_params.get("$count", "").lower() != "true":
            raise bad_request("Unsupported Query.", "Request_UnsupportedQuery")
        if _ROLE_ASSIGNABLE.fullmatch(wanted) is None:
            raise bad_request(f"Unsupported filter: {wanted!r}.", "Request_UnsupportedQuery")
        groups = [g for g in groups if g.is_assignable_to_role]
    page = collection(request, "groups", [render.group(g) for g in groups], _size(request))
    if request.query_params.get("$count", "").lower() == "true":
        page["@odata.count"] = len(groups)
    return graph_json(page)


def _size(request: Request) -> int:
    size: int = request.app.state.page_size
    return size


async def get_group(request: Request) -> JSONResponse:
    found = _group(_tenant(request), request.path_params["ident"])
    return graph_json(entity("groups", render.group(found), request))


async def list_administrative_units(request: Request) -> JSONResponse:
    tenant = _tenant(request)
    units = sorted(tenant.administrative_units.values(), key=lambda u: u.display_name)
    return _page(
        request, "directory/administrativeUnits", [render.administrative_unit(u) for u in units]
    )


async def get_administrative_unit(request: Request) -> JSONResponse:
    # A member user, or an app with AdministrativeUnit.Read.All, may read a unit
    # (https://learn.microsoft.com/en-us/graph/api/administrativeunit-get); the sandbox
    # checks no permissions, so every token may.
    found = _tenant(request).administrative_unit(request.path_params["ident"])
    body = render.administrative_unit(found)
    return graph_json(entity("directory/administrativeUnits", body, request))


async def members(request: Request) -> JSONResponse:
    tenant = _tenant(request)
    found = _group(tenant, request.path_params["ident"])
    transitive = request.url.path.endswith("/transitiveMembers")
    items = tenant.directory.members(found.id, transitive=transitive)
    return _page(request, "directoryObjects", [render.directory_object(m) for m in items])


ROUTES = [
    Route("/v1.0/users", list_users),
    Route("/v1.0/me", me),
    Route("/v1.0/users/{ident}", get_user),
    Route("/v1.0/users/{ident}/memberOf", member_of),
    Route("/v1.0/users/{ident}/memberOf/microsoft.graph.group", member_groups),
    Route("/v1.0/users/{ident}/transitiveMemberOf", member_of),
    Route("/v1.0/groups/{ident}", get_group),
    Route("/v1.0/groups/{ident}/members", members),
    Route("/v1.0/groups/{ident}/transitiveMembers", members),
    Route("/v1.0/directory/administrativeUnits", list_administrative_units),
    Route("/v1.0/directory/administrativeUnits/{ident}", get_administrative_unit),
]
