"""The sandbox over real TLS sockets: what the bot's httpx + MSAL client will see."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import msal
import pytest
import requests

from bot.clock import OffsetClock
from bot.simulators.sandbox import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_TENANT_ID,
    SandboxServer,
    SandboxTenant,
    create_app,
)
from tests.conftest import DATA
from tests.support.cast import ALINE, USER_ADMIN
from tests.support.graph_caller import (
    CLIENT_FORM,
    REQUESTS,
    TOKEN_PATH,
    assert_graph_error,
    context_type,
    request_body,
)
from tests.support.graph_schema import assert_graph_valid


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(create_app(SandboxTenant.from_seed(OffsetClock()), page_size=5)) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh(server: SandboxServer) -> None:
    server.tenant.reset()
    server.faults.clear()


SCHEMA: dict[str, Any] = json.loads((DATA / "graph-pim-v1.0.schema.json").read_text())


def check_graph_body(response: httpx.Response) -> None:
    """Event hook: every Graph body over the wire is schema-valid or a Graph error."""
    response.read()
    if not response.url.path.startswith("/v1.0/"):
        return
    assert response.headers["request-id"]
    if response.status_code < 300 and response.content:
        body = response.json()
        assert_graph_valid(SCHEMA, context_type(body), body)
    elif response.status_code >= 400:
        assert_graph_error(response)


def client(server: SandboxServer, **kwargs: Any) -> httpx.Client:
    assert server.ca_file
    trust = ssl.create_default_context(cafile=server.ca_file)
    return httpx.Client(
        base_url=server.url, verify=trust, event_hooks={"response": [check_graph_body]}, **kwargs
    )


def msal_session(server: SandboxServer) -> requests.Session:
    assert server.ca_file
    session = requests.Session()
    session.verify = server.ca_file
    # Otherwise REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE in the environment win over `verify`.
    session.trust_env = False
    return session


def token(http: httpx.Client) -> dict[str, str]:
    body = http.post(TOKEN_PATH, data=CLIENT_FORM).json()
    return {"Authorization": f"Bearer {body['access_token']}"}


def test_serves_https_with_its_own_ca(server: SandboxServer, graph_schema: dict[str, Any]) -> None:
    assert server.url.startswith("https://127.0.0.1:")
    with client(server) as http:
        user = http.get(f"/v1.0/users/{ALINE.id}", headers=token(http))
    assert user.status_code == 200 and user.headers["request-id"]
    assert_graph_valid(graph_schema, "user", user.json())
    with pytest.raises(httpx.ConnectError):  # the default trust store does not know it
        httpx.get(f"{server.url}/v1.0/users")


@pytest.mark.parametrize("discovery", ["off", "sandbox"])
def test_msal_gets_a_token_from_the_sandbox(server: SandboxServer, discovery: str) -> None:
    session = msal_session(server)
    app = msal.ConfidentialClientApplication(
        SANDBOX_CLIENT_ID,
        client_credential=SANDBOX_CLIENT_SECRET,
        authority=f"{server.url}/{SANDBOX_TENANT_ID}",
        http_client=session,
        # MSAL asks login.microsoftonline.com about unknown hosts unless told not to, or
        # pointed at the sandbox's own instance discovery.
        instance_discovery=False
        if discovery == "off"
        else f"{server.url}/common/discovery/instance",
    )
    result = app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
    session.close()
    assert "access_token" in result, result
    with client(server) as http:
        me = http.get(
            f"/v1.0/users/{ALINE.id}", headers={"Authorization": f"Bearer {result['access_token']}"}
        )
    assert me.status_code == 200


def test_msal_refuses_a_wrong_secret(server: SandboxServer) -> None:
    session = msal_session(server)
    app = msal.ConfidentialClientApplication(
        SANDBOX_CLIENT_ID,
        client_credential="wrong",
        authority=f"{server.url}/{SANDBOX_TENANT_ID}",
        http_client=session,
        instance_discovery=False,
    )
    result = app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
    session.close()
    assert result["error"] == "invalid_client"


def test_dropped_connection_over_a_real_socket(server: SandboxServer) -> None:
    server.faults.drop(path="/v1.0/users")
    with client(server) as http:
        headers = token(http)
        with pytest.raises(httpx.TransportError):
            http.get(f"/v1.0/users/{ALINE.id}", headers=headers)
        assert http.get(f"/v1.0/users/{ALINE.id}", headers=headers).status_code == 200


def test_response_lost_after_processing_over_a_real_socket(server: SandboxServer) -> None:
    server.faults.lose_response(method="POST", path=REQUESTS)
    body = request_body("adminAssign", ALINE.id, USER_ADMIN)
    with client(server) as http:
        headers = token(http)
        with pytest.raises(httpx.TransportError):
            http.post(REQUESTS, json=body, headers=headers)
        retried = http.post(REQUESTS, json=body, headers=headers)
    assert retried.status_code == 400
    assert retried.json()["error"]["code"] == "RoleAssignmentExists"


def test_late_answer_times_out_the_client(server: SandboxServer) -> None:
    server.faults.lose_response(delay=1.0, deliver=True, method="POST", path=REQUESTS)
    with client(server, timeout=0.3) as http:
        headers = token(http)
        with pytest.raises(httpx.TimeoutException):
            http.post(
                REQUESTS, json=request_body("adminAssign", ALINE.id, USER_ADMIN), headers=headers
            )
    assert len(server.tenant.live_assignments()) == 3  # 2 seeded + the one that went through


def test_throttling_over_a_real_socket(server: SandboxServer) -> None:
    server.faults.throttle(retry_after=2)
    with client(server) as http:
        throttled = http.post(TOKEN_PATH, data=CLIENT_FORM)
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "2"


def test_fast_forward_through_the_control_endpoint(server: SandboxServer) -> None:
    with client(server) as http:
        headers = token(http)
        http.post(
            REQUESTS,
            json=request_body("adminAssign", ALINE.id, USER_ADMIN, duration="PT1H"),
            headers=headers,
        )
        filt = {"$filter": f"principalId eq '{ALINE.id}'"}
        path = "/v1.0/roleManagement/directory/roleAssignmentScheduleInstances"
        assert len(http.get(path, params=filt, headers=headers).json()["value"]) == 1
        http.post("/sandbox/clock", json={"seconds": 1800})
        assert len(http.get(path, params=filt, headers=headers).json()["value"]) == 1
        http.post("/sandbox/clock", json={"seconds": 1800})
        headers = token(http)  # the first token has expired with the hour too
        assert http.get(path, params=filt, headers=headers).json()["value"] == []


def test_plain_http_when_asked() -> None:
    with SandboxServer(create_app(SandboxTenant.from_seed(OffsetClock())), tls=False) as plain:
        assert plain.url.startswith("http://") and plain.ca_file is None
        response = httpx.get(
            f"{plain.url}/{SANDBOX_TENANT_ID}/v2.0/.well-known/openid-configuration"
        )
    assert response.json()["token_endpoint"].startswith(plain.url)


def test_msal_device_code_flow(server: SandboxServer) -> None:
    session = msal_session(server)
    app = msal.PublicClientApplication(
        SANDBOX_CLIENT_ID,
        authority=f"{server.url}/{SANDBOX_TENANT_ID}",
        http_client=session,
        instance_discovery=False,
    )
    flow = app.initiate_device_flow(scopes=["https://graph.microsoft.com/.default"])
    assert "user_code" in flow, flow
    with client(server) as http:
        http.post("/sandbox/device", json={"userCode": flow["user_code"], "user": ALINE.id})
    result = app.acquire_token_by_device_flow(flow)
    session.close()
    assert "access_token" in result, result
    [account] = app.get_accounts()
    assert account["home_account_id"] == f"{ALINE.id}.{SANDBOX_TENANT_ID}"
    with client(server) as http:
        me = http.get("/v1.0/me", headers={"Authorization": f"Bearer {result['access_token']}"})
    assert me.json()["id"] == ALINE.id
