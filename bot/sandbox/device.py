"""Device-code sign-in (RFC 8628) as Entra does it, for delegated (user) tokens.

The "user" signs in through the sandbox-only `POST /sandbox/device {"userCode", "user"}`
instead of a browser; the token then speaks for that user (self actions, /me,
filterByCurrentUser).
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.sandbox import delegated
from bot.sandbox.errors import bad_request
from bot.sandbox.responses import oauth_error
from bot.sandbox.tenant import SandboxTenant

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
POLL_INTERVAL = 1  # seconds; Entra says 5, but tests should not wait that long


def _tenant(request: Request) -> SandboxTenant:
    tenant: SandboxTenant = request.app.state.tenant
    return tenant


async def start(request: Request) -> JSONResponse:
    """POST /{tenant}/oauth2/v2.0/devicecode: a user code for the user to enter."""
    tenant = _tenant(request)
    form = dict(parse_qsl((await request.body()).decode()))
    if form.get("client_id") != tenant.client_id:
        return oauth_error(
            request,
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{form.get('client_id')}' was not found.",
        )
    grant = tenant.device_codes.start(tenant.client_id, form.get("scope", ""), form.get("claims"))
    verification = str(request.base_url).rstrip("/") + "/sandbox/device"
    lifetime = int(tenant.device_codes.LIFETIME.total_seconds())
    return JSONResponse(
        {
            "user_code": grant.user_code,
            "device_code": grant.device_code,
            "verification_uri": verification,
            "expires_in": lifetime,
            "interval": POLL_INTERVAL,
            "message": f"To sign in, use a web browser to open the page {verification} and "
            f"enter the code {grant.user_code} to authenticate.",
        }
    )


def redeem(request: Request, form: dict[str, str]) -> JSONResponse:
    """The token endpoint's device_code grant: pending until signed in, then a token."""
    tenant = _tenant(request)
    outcome, grant = tenant.device_codes.redeem(form.get("device_code", ""))
    if grant is None or grant.user_id is None:
        codes = {"authorization_pending": 70016, "expired_token": 70020}
        return oauth_error(
            request,
            400,
            outcome,
            codes.get(outcome, 70000),
            "The device code sign-in is " + outcome.replace("_", " ") + ".",
        )
    acrs = delegated.requested_acrs(grant.claims)
    return delegated.token_response(request, grant.user_id, grant.scope, acrs)


async def sign_in(request: Request) -> Response:
    """GET: instructions. POST {"userCode", "user": id or UPN}: that user signs in."""
    if request.method == "GET":
        return PlainTextResponse('POST {"userCode": "...", "user": "<UPN>"} to sign in.')
    tenant = _tenant(request)
    raw = await request.body()
    body = json.loads(raw) if raw else {}
    user = tenant.directory.user(str(body.get("user", "")))
    if user is None:
        raise bad_request("'user' must name a user of the tenant.")
    grant = tenant.device_codes.sign_in(str(body.get("userCode", "")), user.id)
    if grant is None:
        raise bad_request("That code is unknown, expired or already used.")
    return JSONResponse({"signedIn": user.upn})


ROUTES = [Route("/sandbox/device", sign_in, methods=["GET", "POST"])]
