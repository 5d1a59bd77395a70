"""Device-code sign-in: delegated tokens that speak for a user."""

from __future__ import annotations

import httpx

from bot.simulators.sandbox import SANDBOX_CLIENT_ID, SANDBOX_TENANT_ID
from tests.support.cast import ALINE, USER_ADMIN
from tests.support.graph_caller import TOKEN_PATH, GraphCaller, request_body

DEVICE_PATH = f"/{SANDBOX_TENANT_ID}/oauth2/v2.0/devicecode"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


async def test_pending_until_the_user_signs_in(http: httpx.AsyncClient, graph: GraphCaller) -> None:
    flow = (
        await http.post(
            DEVICE_PATH, data={"client_id": SANDBOX_CLIENT_ID, "scope": "openid offline_access"}
        )
    ).json()
    assert flow["verification_uri"].endswith("/sandbox/device") and flow["interval"] >= 1
    poll = {
        "grant_type": DEVICE_GRANT,
        "client_id": SANDBOX_CLIENT_ID,
        "device_code": flow["device_code"],
    }
    pending = await http.post(TOKEN_PATH, data=poll)
    assert pending.status_code == 400 and pending.json()["error"] == "authorization_pending"

    signed_in = await http.post(
        "/sandbox/device",
        json={"userCode": flow["user_code"], "user": ALINE.upn},
    )
    assert signed_in.status_code == 200
    token = (await http.post(TOKEN_PATH, data=poll)).json()["access_token"]

    me = await graph.call("GET", "/v1.0/me", "user", token=token)
    assert me.json()["id"] == ALINE.id
    activated = await graph.post_request(
        request_body("selfActivate", ALINE.id, USER_ADMIN), token=token
    )
    assert activated.json()["createdBy"]["user"]["id"] == ALINE.id
    reused = await http.post(TOKEN_PATH, data=poll)
    assert reused.json()["error"] == "invalid_grant"


async def test_unknown_codes_cannot_sign_in(http: httpx.AsyncClient) -> None:
    response = await http.post("/sandbox/device", json={"userCode": "NOPE", "user": ALINE.id})
    assert response.status_code == 400
