"""Delegated sign-in as Entra does it: refresh tokens, ID tokens, claims requests, and
revoking a user's sessions (Graph's `revokeSignInSessions`).

A token response for a user carries an access token, a refresh token (rotated on use,
expired after 90 days unused or when the user's sessions are revoked), an unsigned ID
token (MSAL reads its claims without checking a signature) and `client_info`. An
authentication context asked for in a `claims` request (`{"access_token": {"acrs":
{"essential": true, "value": "c1"}}}`) is taken as satisfied by the interactive sign-in
(device code), remembered by the refresh token, and stamped into the access token.

How the user signed in travels the same way, as the token's `amr` claim: `["pwd"]`, or
`["pwd", "mfa"]` when the sign-in used a second factor (the sign-in page's "mfa" choice,
or any step-up to an authentication context: the seed's "c1" is an MFA step-up). A
refreshed token keeps the `amr` of the sign-in behind it, as in Entra.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.clock import Clock
from bot.simulators.sandbox.errors import bad_request, not_found
from bot.simulators.sandbox.responses import graph_json, oauth_error, require_caller
from bot.simulators.sandbox.tokens import PASSWORD_ONLY, WITH_MFA

REFRESH_LIFETIME = timedelta(days=90)  # Entra's inactivity limit for refresh tokens


@dataclass(frozen=True, slots=True)
class RefreshGrant:
    user_id: str
    client_id: str
    scope: str
    acrs: frozenset[str]
    last_used: datetime
    amr: frozenset[str] = PASSWORD_ONLY


class RefreshTokens:
    """Issued refresh tokens, timed by the tenant clock; each use rotates the token."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._grants: dict[str, RefreshGrant] = {}
        self._lock = threading.Lock()

    def issue(
        self,
        user_id: str,
        client_id: str,
        scope: str,
        acrs: frozenset[str],
        amr: frozenset[str] = PASSWORD_ONLY,
    ) -> str:
        token = "sbxrt." + secrets.token_urlsafe(32)
        with self._lock:
            self._grants[token] = RefreshGrant(
                user_id, client_id, scope, acrs, self._clock.now(), amr
            )
        return token

    def redeem(self, token: str) -> RefreshGrant | None:
        """The grant behind a live token (which is used up), or None."""
        with self._lock:
            grant = self._grants.pop(token, None)
        if grant is None or self._clock.now() - grant.last_used > REFRESH_LIFETIME:
            return None
        return grant

    def revoke_user(self, user_id: str) -> None:
        with self._lock:
            for token in [t for t, g in self._grants.items() if g.user_id == user_id]:
                del self._grants[token]


def requested_acrs(claims: str | None) -> frozenset[str]:
    """Authentication context ids a claims request asks for in the access token."""
    if not claims:
        return frozenset()
    try:
        acrs = json.loads(claims).get("access_token", {}).get("acrs", {})
    except (ValueError, AttributeError):
        return frozenset()
    values = acrs.get("values") or ([acrs["value"]] if acrs.get("value") else [])
    return frozenset(str(v) for v in values)


def requests_mfa(claims: str | None) -> bool:
    """Does a claims request ask for an MFA sign-in (`{"access_token": {"amr": {"values":
    ["mfa"]}}}`, what a client sends after PIM's MfaRule refusal)?"""
    if not claims:
        return False
    try:
        amr = json.loads(claims).get("access_token", {}).get("amr", {})
    except (ValueError, AttributeError):
        return False
    return "mfa" in (amr.get("values") or [])


def sign_in_amr(mfa: bool, acrs: frozenset[str]) -> frozenset[str]:
    """The `amr` of an interactive sign-in: a second factor if the user chose one, or if
    the sign-in satisfied an authentication context (the sandbox's contexts are MFA
    step-ups)."""
    return WITH_MFA if mfa or acrs else PASSWORD_ONLY


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def token_response(
    request: Request,
    user_id: str,
    scope: str,
    acrs: frozenset[str],
    amr: frozenset[str] = PASSWORD_ONLY,
) -> JSONResponse:
    """A delegated token response for `user_id`, as Entra's token endpoint answers."""
    tenant = request.app.state.tenant
    user = tenant.directory.users[user_id]
    access, caller = tenant.tokens.issue("user", user_id, tenant.client_id, acrs, amr)
    refresh = tenant.refresh_tokens.issue(user_id, tenant.client_id, scope, acrs, amr)
    lifetime = int(tenant.tokens.lifetime.total_seconds())
    now = int(tenant.now().timestamp())
    base = str(request.base_url).rstrip("/")
    claims = {
        "aud": tenant.client_id,
        "iss": f"{base}/{tenant.tenant_id}/v2.0",
        "iat": now,
        "nbf": now,
        "exp": int(caller.expires.timestamp()),
        "oid": user.id,
        "sub": user.id,
        "tid": tenant.tenant_id,
        "name": user.display_name,
        "preferred_username": user.upn,
        "amr": sorted(amr),
    }
    return JSONResponse(
        {
            "token_type": "Bearer",
            "scope": scope,
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": access,
            "refresh_token": refresh,
            "id_token": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
            "client_info": _b64({"uid": user.id, "utid": tenant.tenant_id}),
        }
    )


def refresh(request: Request, form: dict[str, str]) -> JSONResponse:
    """The token endpoint's refresh_token grant."""
    tenant = request.app.state.tenant
    grant = tenant.refresh_tokens.redeem(form.get("refresh_token", ""))
    if grant is None or grant.client_id != form.get("client_id"):
        return oauth_error(
            request,
            400,
            "invalid_grant",
            700082,
            "The refresh token has expired or been revoked. The user must sign in again.",
        )
    wanted = requested_acrs(form.get("claims"))
    mfa_missing = requests_mfa(form.get("claims")) and "mfa" not in grant.amr
    if not wanted <= grant.acrs or mfa_missing:
        # Put the refresh token back: the session is fine, it just lacks the step-up.
        tenant.refresh_tokens.issue(
            grant.user_id, grant.client_id, grant.scope, grant.acrs, grant.amr
        )
        # Entra's own answer: invalid_grant with AADSTS50076 (as MSAL users report it,
        # "invalid_grant: AADSTS50076: ... you must use multi-factor authentication").
        return oauth_error(
            request,
            400,
            "invalid_grant",
            50076,
            "Due to a configuration change made by your administrator, or because you moved "
            "to a new location, you must use multi-factor authentication to access it."
            if mfa_missing
            else "The user must sign in interactively to satisfy the authentication context "
            f"{', '.join(sorted(wanted - grant.acrs))}.",
        )
    scope = form.get("scope") or grant.scope
    return token_response(request, grant.user_id, scope, wanted, grant.amr)


async def revoke_sessions(request: Request) -> JSONResponse:
    """POST /v1.0/users/{id}/revokeSignInSessions (or /me/...): refresh and access tokens
    of the user stop working (Graph is CAE-aware, so its access tokens do too)."""
    caller = require_caller(request)
    tenant = request.app.state.tenant
    ident = request.path_params.get("ident")
    if ident is None:
        if caller.kind != "user":
            raise bad_request("/me requires a delegated (user) token.")
        ident = caller.object_id
    user = tenant.directory.user(ident)
    if user is None:
        raise not_found("user", ident)
    tenant.refresh_tokens.revoke_user(user.id)
    tenant.tokens.revoke_user(user.id)
    context = f"{base_url(request)}/v1.0/$metadata#Edm.Boolean"
    return graph_json({"@odata.context": context, "value": True})


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


ROUTES = [
    Route("/v1.0/users/{ident}/revokeSignInSessions", revoke_sessions, methods=["POST"]),
    Route("/v1.0/me/revokeSignInSessions", revoke_sessions, methods=["POST"]),
]
