"""Delegated tokens: device code -> refresh token and ID token; refresh rotation and
expiry; claims requests; revokeSignInSessions."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import httpx

from bot.simulators.sandbox import SANDBOX_CLIENT_ID, SANDBOX_TENANT_ID
from bot.simulators.sandbox.stepup import claims_request
from tests.support.cast import ALINE
from tests.support.clock import FakeClock
from tests.support.graph_caller import TOKEN_PATH, GraphCaller, assert_graph_error

DEVICE_PATH = f"/{SANDBOX_TENANT_ID}/oauth2/v2.0/devicecode"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


async def sign_in(http: httpx.AsyncClient, claims: str | None = None) -> dict[str, Any]:
    form = {"client_id": SANDBOX_CLIENT_ID, "scope": "https://graph.microsoft.com/.default"}
    flow = (await http.post(DEVICE_PATH, data=form | ({"claims": claims} if claims else {}))).json()
    await http.post("/sandbox/device", json={"userCode": flow["user_code"], "user": ALINE.upn})
    poll = {
        "grant_type": DEVICE_GRANT,
        "client_id": SANDBOX_CLIENT_ID,
        "device_code": flow["device_code"],
    }
    tokens: dict[str, Any] = (await http.post(TOKEN_PATH, data=poll)).json()
    return tokens


def refresh_form(token: str, claims: str | None = None) -> dict[str, str]:
    form = {"grant_type": "refresh_token", "client_id": SANDBOX_CLIENT_ID, "refresh_token": token}
    return form | ({"claims": claims} if claims else {})


def payload(jwt: str) -> dict[str, Any]:
    part = jwt.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


async def test_device_code_gives_an_id_token_and_a_refresh_token(http: httpx.AsyncClient) -> None:
    tokens = await sign_in(http)

    claims = payload(tokens["id_token"])
    assert (claims["oid"], claims["preferred_username"], claims["name"]) == (
        ALINE.id,
        ALINE.upn,
        "Aline Dupuy",
    )
    assert claims["aud"] == SANDBOX_CLIENT_ID and claims["tid"] == SANDBOX_TENANT_ID
    assert tokens["refresh_token"] and tokens["access_token"] != tokens["refresh_token"]


async def test_a_refresh_token_rotates_and_cannot_be_replayed(
    http: httpx.AsyncClient, graph: GraphCaller
) -> None:
    first = (await sign_in(http))["refresh_token"]

    renewed = (await http.post(TOKEN_PATH, data=refresh_form(first))).json()
    replay = await http.post(TOKEN_PATH, data=refresh_form(first))

    me = await graph.call("GET", "/v1.0/me", "user", token=renewed["access_token"])
    assert me.json()["id"] == ALINE.id and renewed["refresh_token"] != first
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"


async def test_refresh_tokens_expire_after_ninety_days_unused(
    http: httpx.AsyncClient, clock: FakeClock
) -> None:
    token = (await sign_in(http))["refresh_token"]
    clock.advance(timedelta(days=91))

    expired = await http.post(TOKEN_PATH, data=refresh_form(token))

    assert expired.json()["error"] == "invalid_grant" and "AADSTS700082" in expired.text


async def test_a_step_up_needs_an_interactive_sign_in(http: httpx.AsyncClient) -> None:
    plain = (await sign_in(http))["refresh_token"]
    wanted = claims_request("c1")

    refused = await http.post(TOKEN_PATH, data=refresh_form(plain, wanted))
    stepped = await sign_in(http, wanted)
    renewed = await http.post(TOKEN_PATH, data=refresh_form(stepped["refresh_token"], wanted))

    # Entra's answer is invalid_grant AADSTS50076, not interaction_required: a client that
    # took every invalid_grant for a dead session would loop through plain sign-ins.
    assert refused.json()["error"] == "invalid_grant" and "AADSTS50076" in refused.text
    assert 50076 in refused.json()["error_codes"]
    assert renewed.status_code == 200, renewed.text


async def test_revoking_sessions_kills_refresh_and_access_tokens(
    http: httpx.AsyncClient, graph: GraphCaller
) -> None:
    tokens = await sign_in(http)
    # Not one of pimbot's permissions (seed.yml); granted here to revoke as an admin app.
    await http.post("/sandbox/permissions", json={"grant": ["User.RevokeSessions.All"]})

    revoked = await http.post(
        f"/v1.0/users/{ALINE.id}/revokeSignInSessions",
        headers={"Authorization": f"Bearer {graph.token}"},
    )

    assert revoked.json()["value"] is True
    dead = await http.get("/v1.0/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert_graph_error(dead, 401, "InvalidAuthenticationToken")
    again = await http.post(TOKEN_PATH, data=refresh_form(tokens["refresh_token"]))
    assert again.json()["error"] == "invalid_grant"


async def test_an_mfa_claims_request_needs_an_mfa_sign_in(http: httpx.AsyncClient) -> None:
    """After PIM's MfaRule refusal a client asks for `amr: mfa`: a password-only session
    cannot refresh into it (invalid_grant AADSTS50076); a sign-in asked for it can."""
    wanted = '{"access_token":{"amr":{"values":["mfa"]}}}'
    plain = (await sign_in(http))["refresh_token"]

    refused = await http.post(TOKEN_PATH, data=refresh_form(plain, wanted))
    stepped = await sign_in(http, wanted)
    renewed = await http.post(TOKEN_PATH, data=refresh_form(stepped["refresh_token"], wanted))

    assert refused.json()["error"] == "invalid_grant" and "AADSTS50076" in refused.text
    assert renewed.status_code == 200, renewed.text
