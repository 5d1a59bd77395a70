"""Seed names the strict-rules tests use that tests/support/cast.py does not define (read
from seed.yml, so a test can never disagree with the tenant), and a device-code sign-in
that chooses whether the user used MFA."""

from __future__ import annotations

from typing import Any

import httpx

from bot.simulators.sandbox import SANDBOX_CLIENT_ID, SANDBOX_TENANT_ID
from bot.simulators.sandbox.seed import load_seed
from tests.support.graph_caller import TOKEN_PATH

_SEED = load_seed()
(PARIS,) = [u for u in _SEED.administrative_units if u.display_name == "Paris Office"]
PARIS_SCOPE = PARIS.scope  # /administrativeUnits/{id}
(EXCHANGE_ADMIN,) = [r.id for r in _SEED.roles if r.display_name == "Exchange Administrator"]
(TEAMS_ADMIN,) = [r.id for r in _SEED.roles if r.display_name == "Teams Administrator"]


async def sign_in(
    http: httpx.AsyncClient, user: str, *, mfa: bool, claims: str | None = None
) -> dict[str, Any]:
    """The device-code flow end to end: start, sign in on the sandbox's page (with or
    without a second factor), redeem. Returns the token response."""
    form = {"client_id": SANDBOX_CLIENT_ID, "scope": "https://graph.microsoft.com/.default"}
    if claims:
        form["claims"] = claims
    flow = (await http.post(f"/{SANDBOX_TENANT_ID}/oauth2/v2.0/devicecode", data=form)).json()
    signed = await http.post(
        "/sandbox/device", json={"userCode": flow["user_code"], "user": user, "mfa": mfa}
    )
    assert signed.status_code == 200, signed.text
    poll = {
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
        "client_id": SANDBOX_CLIENT_ID,
        "device_code": flow["device_code"],
    }
    response = await http.post(TOKEN_PATH, data=poll)
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens
