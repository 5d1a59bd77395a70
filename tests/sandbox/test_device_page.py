"""The sandbox's device-code sign-in page (`/sandbox/device`): what a person sees when
pimbot's sign-in DM links there. They enter the code, pick a seeded user, and the
device-code grant then redeems as that user."""

from __future__ import annotations

import base64
import json
import re
from html import unescape

import httpx

from bot.simulators.sandbox import SANDBOX_CLIENT_ID, SANDBOX_TENANT_ID, SandboxTenant
from tests.support.cast import ALINE
from tests.support.graph_caller import TOKEN_PATH, GraphCaller

DEVICE_PATH = f"/{SANDBOX_TENANT_ID}/oauth2/v2.0/devicecode"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
PAGE = "/sandbox/device"


async def _start(http: httpx.AsyncClient) -> dict[str, str]:
    response = await http.post(
        DEVICE_PATH, data={"client_id": SANDBOX_CLIENT_ID, "scope": "openid offline_access"}
    )
    assert response.status_code == 200, response.text
    flow: dict[str, str] = response.json()
    return flow


async def _poll(http: httpx.AsyncClient, device_code: str) -> httpx.Response:
    form = {"grant_type": DEVICE_GRANT, "client_id": SANDBOX_CLIENT_ID, "device_code": device_code}
    return await http.post(TOKEN_PATH, data=form)


def _text(response: httpx.Response) -> str:
    """The page's visible text, tags dropped and entities decoded."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", response.text)))


async def test_the_page_lists_every_user_of_the_tenant(
    http: httpx.AsyncClient, tenant: SandboxTenant
) -> None:
    response = await http.get(PAGE)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<form method="post" action="/sandbox/device">' in response.text
    assert 'name="userCode"' in response.text
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', response.text)
    assert [value for value, _ in options if value] and options[0][0] == ""  # a placeholder
    users = tenant.directory.users.values()
    assert {value for value, _ in options if value} == {u.id for u in users}
    for user in users:
        label = next(unescape(label) for value, label in options if value == user.id)
        assert user.display_name in label and user.upn in label
    assert "src=" not in response.text and "href=" not in response.text  # self-contained


async def test_the_code_in_the_query_is_prefilled(http: httpx.AsyncClient) -> None:
    response = await http.get(PAGE, params={"code": "ABCD2345E"})
    assert 'value="ABCD2345E"' in response.text


async def test_a_form_post_signs_in_and_the_device_code_redeems_as_that_user(
    http: httpx.AsyncClient, graph: GraphCaller
) -> None:
    flow = await _start(http)
    pending = await _poll(http, flow["device_code"])
    assert pending.json()["error"] == "authorization_pending"

    page = await http.post(PAGE, data={"userCode": flow["user_code"].lower(), "user": ALINE.id})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Signed in as Aline Dupuy. You can close this page and go back to Slack." in (
        _text(page)
    )

    token = (await _poll(http, flow["device_code"])).json()["access_token"]
    me = await graph.call("GET", "/v1.0/me", "user", token=token)
    assert me.json()["id"] == ALINE.id


async def test_a_bad_code_is_a_400_page_saying_so(http: httpx.AsyncClient) -> None:
    page = await http.post(PAGE, data={"userCode": "NOPE12345", "user": ALINE.id})
    assert page.status_code == 400
    assert page.headers["content-type"].startswith("text/html")
    assert "The code NOPE12345 is unknown, expired or already used." in _text(page)
    assert 'value="NOPE12345"' in page.text  # the form again, to correct it
    assert re.search(rf'<option value="{ALINE.id}" selected>', page.text)


async def test_a_used_code_cannot_sign_in_twice(http: httpx.AsyncClient) -> None:
    flow = await _start(http)
    first = await http.post(PAGE, data={"userCode": flow["user_code"], "user": ALINE.id})
    assert first.status_code == 200
    again = await http.post(PAGE, data={"userCode": flow["user_code"], "user": ALINE.id})
    assert again.status_code == 400 and "already used" in _text(again)


async def test_an_unknown_user_is_a_400_page_and_the_code_stays_usable(
    http: httpx.AsyncClient,
) -> None:
    flow = await _start(http)
    page = await http.post(PAGE, data={"userCode": flow["user_code"], "user": "nobody"})
    assert page.status_code == 400 and "Pick a user of the tenant." in _text(page)
    assert (await _poll(http, flow["device_code"])).json()["error"] == "authorization_pending"


async def test_reflected_values_are_escaped(http: httpx.AsyncClient) -> None:
    attack = '"><script>alert(1)</script>'
    escaped = "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
    prefilled = await http.get(PAGE, params={"code": attack})
    rejected = await http.post(PAGE, data={"userCode": attack, "user": ALINE.id})
    no_user = await http.post(PAGE, data={"userCode": "X", "user": attack})
    assert rejected.status_code == no_user.status_code == 400
    for response in (prefilled, rejected, no_user):
        assert "<script" not in response.text and "alert(1)</" not in response.text
    assert f'value="{escaped}"' in prefilled.text
    assert f'value="{escaped}"' in rejected.text and f"The code {escaped} is" in rejected.text
    assert "selected" not in no_user.text  # an unknown user picks nothing


async def test_the_json_post_still_answers_json(http: httpx.AsyncClient) -> None:
    flow = await _start(http)
    response = await http.post(PAGE, json={"userCode": flow["user_code"], "user": ALINE.id})
    assert response.status_code == 200
    assert response.json() == {"signedIn": ALINE.upn, "mfa": False}


async def test_the_page_lets_the_user_sign_in_with_mfa_and_the_token_says_so(
    http: httpx.AsyncClient,
) -> None:
    """The sign-in page's MFA choice ends up in the token's `amr` (["pwd", "mfa"]), which
    PIM's MFA rule reads (test_strict_rules.py)."""
    page = await http.get(PAGE)
    assert 'type="checkbox" name="mfa"' in page.text
    flows = [await _start(http), await _start(http)]
    for flow, mfa in zip(flows, (True, False), strict=True):
        form = {"userCode": flow["user_code"], "user": ALINE.id} | ({"mfa": "on"} if mfa else {})
        assert (await http.post(PAGE, data=form)).status_code == 200

    amrs = []
    for flow in flows:
        token = (await _poll(http, flow["device_code"])).json()["id_token"]
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        amrs.append(claims["amr"])

    assert amrs == [["mfa", "pwd"], ["pwd"]]
