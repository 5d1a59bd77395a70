"""Graph's response conventions: JSON bodies, the error envelope, bearer-token checks."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.clock import Clock
from bot.simulators.sandbox.errors import GraphFailure
from bot.simulators.sandbox.permissions import check_application
from bot.simulators.sandbox.tokens import Caller

# What Graph sends with a 401 so clients know where to sign in.
_WWW_AUTHENTICATE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/'
    'authorize", client_id="00000003-0000-0000-c000-000000000000"'
)


def error_body(
    code: str, message: str, request_id: str, client_request_id: str | None, clock: Clock
) -> dict[str, Any]:
    """`{"error": {"code", "message", "innerError": {"date", "request-id", ...}}}`."""
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": clock.now().strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": request_id,
                "client-request-id": client_request_id or request_id,
            },
        }
    }


def graph_json(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type="application/json")


def _ids(request: Request) -> tuple[str, str | None]:
    return request.state.request_id, request.headers.get("client-request-id")


def failure_response(request: Request, exc: Exception) -> Response:
    """Exception handler: GraphFailure, Starlette's 404/405 and unexpected errors, all in
    Graph's envelope."""
    if isinstance(exc, HTTPException):
        code = "BadRequest" if exc.status_code == 404 else "Request_BadRequest"
        failure = GraphFailure(
            400 if exc.status_code == 404 else exc.status_code,
            code,
            f"Resource not found for the segment '{request.url.path.rsplit('/', 1)[-1]}'."
            if exc.status_code == 404
            else str(exc.detail),
        )
    elif isinstance(exc, GraphFailure):
        failure = exc
    else:
        # A sandbox bug. This handler runs outside the request-id layer, so stamp it here.
        failure = GraphFailure(
            500,
            "generalException",
            f"The sandbox tenant failed: {type(exc).__name__}.",
            {"request-id": request.state.request_id},
        )
    body = error_body(
        failure.code, failure.message, *_ids(request), clock=request.app.state.tenant.clock
    )
    return JSONResponse(body, status_code=failure.status, headers=failure.headers)


def require_caller(request: Request) -> Caller:
    """The token's caller, or Graph's 401 InvalidAuthenticationToken; an application's
    token must also hold a permission the call accepts (else Graph's 403)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not token or scheme.lower() != "bearer":
        raise GraphFailure(
            401,
            "InvalidAuthenticationToken",
            "Access token is empty.",
            {"WWW-Authenticate": _WWW_AUTHENTICATE},
        )
    caller: Caller | None = request.app.state.tenant.tokens.lookup(token.strip())
    if caller is None:
        raise GraphFailure(
            401,
            "InvalidAuthenticationToken",
            "Lifetime validation failed, the token is expired or not valid.",
            {"WWW-Authenticate": _WWW_AUTHENTICATE},
        )
    check_application(caller, request.app.state.tenant.granted, request.method, request.url.path)
    return caller


def oauth_error(request: Request, status: int, error: str, aadsts: int, text: str) -> JSONResponse:
    """Entra's OAuth error body: `error`, an AADSTS-coded description, trace ids."""
    base = str(request.base_url).rstrip("/")
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    now = request.app.state.tenant.now().strftime("%Y-%m-%d %H:%M:%SZ")
    body: dict[str, Any] = {
        "error": error,
        "error_description": f"AADSTS{aadsts}: {text} Trace ID: {trace} "
        f"Correlation ID: {correlation} Timestamp: {now}",
        "error_codes": [aadsts],
        "timestamp": now,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": f"{base}/error?code={aadsts}",
    }
    return JSONResponse(body, status_code=status)
