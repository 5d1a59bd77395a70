"""Entra login endpoints MSAL needs: OIDC discovery, instance discovery, token."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.simulators.sandbox import delegated, device
from bot.simulators.sandbox.responses import oauth_error
from bot.simulators.sandbox.tenant import SandboxTenant


def _tenant(request: Request) -> SandboxTenant:
    tenant: SandboxTenant = request.app.state.tenant
    return tenant


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _known(tenant: SandboxTenant, name: str) -> bool:
    return name.lower() in (tenant.tenant_id, tenant.seed.domain.lower(), "organizations")


async def openid_configuration(request: Request) -> JSONResponse:
    tenant, name = _tenant(request), request.path_params["tenant"]
    if not _known(tenant, name):
        return oauth_error(request, 400, "invalid_tenant", 90002, f"Tenant '{name}' not found.")
    base, tid = _base(request), tenant.tenant_id
    return JSONResponse(
        {
            "issuer": f"{base}/{tid}/v2.0",
            "authorization_endpoint": f"{base}/{tid}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/{tid}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{base}/{tid}/oauth2/v2.0/devicecode",
            "end_session_endpoint": f"{base}/{tid}/oauth2/v2.0/logout",
            "jwks_uri": f"{base}/{tid}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "grant_types_supported": [
                "client_credentials",
                "authorization_code",
                "refresh_token",
                "urn:ietf:params:oauth:grant-type:device_code",
            ],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "tenant_region_scope": "EU",
            "cloud_instance_name": "sandbox",
        }
    )


async def instance_discovery(request: Request) -> JSONResponse:
    """MSAL asks this before trusting an unknown authority host; vouch for ourselves."""
    host = request.url.netloc
    endpoint = request.query_params.get("authorization_endpoint", "")
    parts = endpoint.split("/")
    tenant = parts[3] if len(parts) > 3 and parts[3] else _tenant(request).tenant_id
    return JSONResponse(
        {
            "tenant_discovery_endpoint": f"{_base(request)}/{tenant}/v2.0/.well-known/"
            "openid-configuration",
            "api-version": "1.1",
            "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
        }
    )


async def token(request: Request) -> JSONResponse:
    """client_credentials with the seeded client id and secret -> an opaque bearer token."""
    tenant, name = _tenant(request), request.path_params["tenant"]
    if not _known(tenant, name):
        return oauth_error(request, 400, "invalid_request", 90002, f"Tenant '{name}' not found.")
    # Parsed by hand: Starlette's form parser needs python-multipart, which we don't ship.
    form = dict(parse_qsl((await request.body()).decode()))
    grant = form.get("grant_type")
    if grant == device.GRANT_TYPE:
        return device.redeem(request, form)
    if grant == "refresh_token":
        return delegated.refresh(request, form)
    if grant != "client_credentials":
        return oauth_error(
            request,
            400,
            "unsupported_grant_type",
            70003,
            f"The app requested an unsupported grant type '{grant}'.",
        )
    client_id = str(form.get("client_id") or "")
    if client_id != tenant.client_id:
        return oauth_error(
            request,
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory "
            f"'{tenant.seed.display_name}'.",
        )
    if form.get("client_secret") != tenant.client_secret:
        return oauth_error(
            request,
            401,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in "
            "the request is the client secret value, not the client secret ID.",
        )
    if not str(form.get("scope") or "").endswith("/.default"):
        return oauth_error(
            request,
            400,
            "invalid_scope",
            1002012,
            "The provided value for scope is not valid. Client credential "
            "flows must have a scope value with /.default suffixed.",
        )
    access, _ = tenant.tokens.issue("application", tenant.seed.service_principal_id, client_id)
    lifetime = int(tenant.tokens.lifetime.total_seconds())
    return JSONResponse(
        {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": access,
        }
    )


ROUTES = [
    Route("/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration),
    Route("/common/discovery/instance", instance_discovery),
    Route("/{tenant}/oauth2/v2.0/token", token, methods=["POST"]),
    Route("/{tenant}/oauth2/v2.0/devicecode", device.start, methods=["POST"]),
]
