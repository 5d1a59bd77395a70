"""Sandbox-only control endpoints under /sandbox/ (not Graph): approvals, clock, faults,
tokens for users (with or without MFA), administrative units and scoped eligibilities,
the app's granted permissions, reset. No auth: the
sandbox is a local test double."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.simulators.sandbox import render
from bot.simulators.sandbox.errors import GraphFailure, bad_request, not_found
from bot.simulators.sandbox.faults import FaultRule, Faults
from bot.simulators.sandbox.tenant import SandboxTenant
from bot.simulators.sandbox.timefmt import format_dt, parse_duration
from bot.simulators.sandbox.tokens import PASSWORD_ONLY, WITH_MFA


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else {}
    except ValueError as exc:
        raise bad_request("The request body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    return body


def _tenant(request: Request) -> SandboxTenant:
    tenant: SandboxTenant = request.app.state.tenant
    return tenant


def _reviewer(tenant: SandboxTenant, ident: Any) -> str | None:
    if ident is None:
        return None
    user = tenant.directory.user(str(ident))
    if user is None:
        raise not_found("user", str(ident))
    return user.id


async def decide(request: Request) -> JSONResponse:
    """POST /sandbox/requests/{id}/approve|deny {"reviewer": id or UPN, "justification"}."""
    tenant, body = _tenant(request), await _body(request)
    reviewer = _reviewer(tenant, body.get("reviewer"))
    verb = request.path_params["verb"]
    if verb not in ("approve", "deny"):
        raise not_found("action", verb)
    act = tenant.approve if verb == "approve" else tenant.deny
    decided = act(request.path_params["ident"], reviewer, body.get("justification"))
    return JSONResponse(render.schedule_request(decided))


async def clock(request: Request) -> JSONResponse:
    """GET the tenant time; POST {"seconds": n} moves it on if the clock can advance."""
    tenant = _tenant(request)
    if request.method == "POST":
        seconds = (await _body(request)).get("seconds")
        advance = getattr(tenant.clock, "advance", None)
        if advance is None:
            raise GraphFailure(409, "ClockFixed", "This tenant's clock cannot be advanced.")
        if not isinstance(seconds, int | float) or seconds < 0:
            raise bad_request("'seconds' must be a non-negative number.")
        advance(seconds)
    return JSONResponse({"now": format_dt(tenant.now())})


async def faults(request: Request) -> Response:
    """POST a rule ({"kind", "times", "method", "path", "status", "retryAfter",
    "seconds", "deliver"}); DELETE clears rules and the call log; GET lists both."""
    queue: Faults = request.app.state.faults
    if request.method == "DELETE":
        queue.clear()
        queue.clear_log()
        return Response(status_code=204)
    if request.method == "POST":
        body = await _body(request)
        try:
            rule = FaultRule(
                kind=body["kind"],
                times=int(body.get("times", 1)),
                method=body.get("method"),
                path=body.get("path"),
                status=body.get("status"),
                retry_after=body.get("retryAfter"),
                seconds=float(body.get("seconds", 0)),
                deliver=bool(body.get("deliver", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise bad_request(f"Invalid fault rule: {exc}.") from exc
        if rule.kind not in ("latency", "status", "drop", "lose_response"):
            raise bad_request(f"Unknown fault kind {rule.kind!r}.")
        queue.add(rule)
        return JSONResponse(dataclasses.asdict(rule), status_code=201)
    return JSONResponse(
        {
            "rules": [dataclasses.asdict(r) for r in queue.rules],
            "calls": [
                {**dataclasses.asdict(c), "time": c.time and format_dt(c.time)}
                for c in queue.find()
            ],
        }
    )


async def calls(request: Request) -> JSONResponse:
    """What the bot did: every Graph and token-endpoint call (not these controls), oldest
    first, with who made it, when on the sandbox clock, and its client-request-id."""
    queue: Faults = request.app.state.faults
    return JSONResponse(
        {
            "value": [
                {
                    "method": c.method,
                    "path": c.path + (f"?{c.query}" if c.query else ""),
                    "status": c.status,
                    "caller": c.caller,
                    "time": c.time and format_dt(c.time),
                    "client_request_id": c.client_request_id,
                }
                for c in queue.find()
            ]
        }
    )


async def user_token(request: Request) -> JSONResponse:
    """POST {"user": id or UPN, "mfa": bool}: a delegated token for that user, as if they
    had signed in with a password only, or (`mfa`) with a second factor too."""
    tenant, body = _tenant(request), await _body(request)
    user_id = _reviewer(tenant, body.get("user"))
    if user_id is None:
        raise bad_request("'user' is required.")
    mfa = body.get("mfa", False)
    if not isinstance(mfa, bool):
        raise bad_request("'mfa' must be true or false.")
    amr = WITH_MFA if mfa else PASSWORD_ONLY
    token, caller = tenant.tokens.issue("user", user_id, tenant.client_id, amr=amr)
    return JSONResponse(
        {"access_token": token, "token_type": "Bearer", "expires_on": format_dt(caller.expires)}
    )


async def administrative_units(request: Request) -> JSONResponse:
    """POST {"displayName", "id"?, "description"?}: a new administrative unit (until reset)."""
    tenant, body = _tenant(request), await _body(request)
    name = body.get("displayName")
    if not isinstance(name, str) or not name:
        raise bad_request("'displayName' is required.")
    unit = tenant.add_administrative_unit(name, body.get("id"), body.get("description"))
    return JSONResponse(render.administrative_unit(unit), status_code=201)


async def eligibilities(request: Request) -> JSONResponse:
    """POST {"principal": user id/UPN or group id, "role", "directoryScopeId",
    "duration"?}: a new eligibility from now (until reset). The scope must exist."""
    tenant, body = _tenant(request), await _body(request)
    ident = str(body.get("principal") or "")
    user = tenant.directory.user(ident)
    principal = user.id if user else ident
    scope, role = body.get("directoryScopeId"), body.get("role")
    if not isinstance(scope, str) or not isinstance(role, str):
        raise bad_request("'role' and 'directoryScopeId' are required.")
    try:
        duration = parse_duration(body["duration"]) if body.get("duration") else None
    except (TypeError, ValueError) as exc:
        raise bad_request(f"Invalid duration: {exc}.") from exc
    added = tenant.add_eligibility(principal, role, scope, duration)
    return JSONResponse(render.eligibility_schedule(added), status_code=201)


async def permissions(request: Request) -> JSONResponse:
    """The app registration's granted application permissions. GET lists them; POST
    {"revoke": [...], "grant": [...]} changes them (until reset), so a test can see
    Graph's 403 for a call the app may no longer make."""
    tenant = _tenant(request)
    if request.method == "POST":
        body = await _body(request)
        revoke, grant = body.get("revoke") or [], body.get("grant") or []
        if not all(isinstance(p, str) for p in [*revoke, *grant]):
            raise bad_request("'revoke' and 'grant' must be lists of permission names.")
        with tenant.lock:
            tenant.granted -= set(revoke)
            tenant.granted |= set(grant)
    return JSONResponse({"value": sorted(tenant.granted)})


async def user_account(request: Request) -> Response:
    """POST {"accountEnabled": false} disables a user (true enables it again); DELETE
    deletes the user. Until reset."""
    tenant = _tenant(request)
    user_id = _reviewer(tenant, request.path_params["ident"])
    assert user_id is not None  # noqa: S101 -- a path parameter is never None
    enabled = None if request.method == "DELETE" else (await _body(request)).get("accountEnabled")
    if request.method != "DELETE" and not isinstance(enabled, bool):
        raise bad_request("'accountEnabled' must be true or false.")
    with tenant.lock:
        if enabled is None:
            tenant.directory.delete(user_id)
        else:
            tenant.directory.disable(user_id, enabled)
    return Response(status_code=204)


async def reset(request: Request) -> Response:
    """Back to the seed; fault rules and the call log are cleared too."""
    _tenant(request).reset()
    queue: Faults = request.app.state.faults
    queue.clear()
    queue.clear_log()
    return Response(status_code=204)


ROUTES = [
    Route("/sandbox/requests/{ident}/{verb}", decide, methods=["POST"]),
    Route("/sandbox/clock", clock, methods=["GET", "POST"]),
    Route("/sandbox/faults", faults, methods=["GET", "POST", "DELETE"]),
    Route("/sandbox/calls", calls, methods=["GET"]),
    Route("/sandbox/tokens", user_token, methods=["POST"]),
    Route("/sandbox/reset", reset, methods=["POST"]),
    Route("/sandbox/users/{ident}", user_account, methods=["POST", "DELETE"]),
    Route("/sandbox/administrativeUnits", administrative_units, methods=["POST"]),
    Route("/sandbox/eligibilities", eligibilities, methods=["POST"]),
    Route("/sandbox/permissions", permissions, methods=["GET", "POST"]),
]
