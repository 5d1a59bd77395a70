"""Graph calls behind an egress proxy (bot/graph/wire.py `env_proxy`): the proxy
HTTPS_PROXY names carries them, as it already carries MSAL's token calls (requests reads
the environment) and Slack's (slack_sdk's `load_http_proxy_from_env`); NO_PROXY and
loopback hosts go direct. The proxy here is a real HTTP CONNECT proxy over sockets, and
the Graph behind it a TLS server with a certificate for a name that does not resolve, so
only a tunnel the proxy opened can reach it."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.errors import GraphUnavailable
from bot.graph import GraphAuth, graph_http
from bot.graph.auth import AccessToken
from bot.graph.client import GraphClient
from bot.graph.envelope import UNAVAILABLE
from bot.graph.msal_credential import MsalCredential
from bot.graph.retry import RetryPolicy
from bot.graph.tls import requests_session
from bot.graph.wire import env_proxy
from bot.simulators.sandbox import SandboxServer
from bot.simulators.sandbox.tls import write_self_signed
from tests.adapters.test_graph_wire import answer, serving
from tests.support.processes import free_port
from tests.support.settings import make_settings

GRAPH_HOST = "graph.proxied.invalid"  # never resolves: reachable only through the tunnel
SECRET = "pr0xy-s3cret"


class ConnectProxy:
    """HTTP CONNECT, as an egress proxy answers it: every tunnel goes to `upstream_port`
    on 127.0.0.1 whatever host was asked for; `password`: a 407 without it."""

    def __init__(self, upstream_port: int, password: str | None = None) -> None:
        self.upstream_port, self.password = upstream_port, password
        self.asked: list[str] = []  # each CONNECT's target, as the client named it
        self.port = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        request, *lines = head.split("\r\n")
        self.asked.append(request.split(" ")[1])
        fields = dict(line.split(":", 1) for line in lines if ":" in line)
        auth = {k.lower(): v.strip() for k, v in fields.items()}.get("proxy-authorization")
        wanted = "Basic " + base64.b64encode(f"pimbot:{self.password}".encode()).decode()
        if self.password is not None and auth != wanted:
            writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    sink.close()


@contextlib.asynccontextmanager
async def proxying(upstream_port: int, password: str | None = None) -> AsyncIterator[ConnectProxy]:
    proxy = ConnectProxy(upstream_port, password)
    listener = await asyncio.start_server(proxy._serve, "127.0.0.1", 0)
    proxy.port = listener.sockets[0].getsockname()[1]
    async with listener:
        yield proxy


@pytest.fixture
def tls(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    cert, key = write_self_signed(tmp_path, hosts=(GRAPH_HOST,))
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    return served, cert


@pytest.fixture(autouse=True)
def no_proxy_of_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def graph(tmp_path: Path, port: int, cert: Path) -> GraphClient:
    """The Graph client as `build_graph` makes it for PIM_GRAPH_URL on GRAPH_HOST."""
    settings = make_settings(
        tmp_path, pim_graph_url=f"https://{GRAPH_HOST}:{port}", pim_ca_file=cert
    )
    auth = GraphAuth(lambda *, force_refresh: AccessToken("t0k3n", 3600))
    return GraphClient(graph_http(settings, auth), retry=RetryPolicy.fast())


async def test_graph_calls_go_through_the_proxy_https_proxy_names_with_its_credentials(
    tmp_path: Path,
    tls: tuple[ssl.SSLContext, Path],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    served, cert = tls
    async with serving(answer(200, b'{"value": []}'), tls=served) as server:
        port = int(server.url.rsplit(":", 1)[1])
        async with proxying(port, password=SECRET) as proxy:
            monkeypatch.setenv("HTTPS_PROXY", f"http://pimbot:{SECRET}@127.0.0.1:{proxy.port}")
            with caplog.at_level(logging.INFO, logger="bot.graph"):
                client = graph(tmp_path, port, cert)
            try:
                first = await client.get("/v1.0/me")
                await client.get("/v1.0/users")
            finally:
                await client.aclose()
    assert first == {"value": []}
    assert proxy.asked == [f"{GRAPH_HOST}:{port}"]  # one tunnel, kept alive for both
    assert b"authorization: bearer t0k3n" in server.requests[0].lower()
    assert len(server.requests) == 2
    said = caplog.text
    assert f"127.0.0.1:{proxy.port}" in said and SECRET not in said and "pimbot:" not in said


async def test_a_proxy_that_refuses_the_tunnel_reaches_nothing_and_says_graph_is_unreachable(
    tmp_path: Path, tls: tuple[ssl.SSLContext, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 407 comes before any byte of the request: unsent, so a POST may be tried again
    as is; after the retries the caller gets Graph's "not responding" error, never "may
    have been applied"."""
    served, cert = tls
    async with serving(answer(200, b"{}"), tls=served) as server:
        port = int(server.url.rsplit(":", 1)[1])
        async with proxying(port, password=SECRET) as proxy:
            monkeypatch.setenv("HTTPS_PROXY", f"http://pimbot:wrong@127.0.0.1:{proxy.port}")
            client = graph(tmp_path, port, cert)
            try:
                with pytest.raises(GraphUnavailable) as caught:
                    await client.post("/v1.0/requests", {"action": "selfActivate"})
            finally:
                await client.aclose()
    assert server.requests == []
    assert len(proxy.asked) > 1  # retried: nothing had been sent
    # Not "may have been applied": the request never left the proxy.
    assert isinstance(caught.value, GraphUnavailable) and str(caught.value) == UNAVAILABLE


@pytest.mark.parametrize(
    ("url", "no_proxy", "expected"),
    [
        ("https://graph.microsoft.com", "", "http://proxy.corp:3128"),
        ("https://graph.microsoft.com", "graph.microsoft.com", None),
        ("https://graph.microsoft.com", ".microsoft.com", None),
        ("https://graph.microsoft.com", "*", None),
        ("https://graph.microsoft.us", ".microsoft.com", "http://proxy.corp:3128"),
        ("https://127.0.0.1:8443", "", None),  # the embedded sandbox tenant
        ("https://localhost:8443", "", None),
        ("https://[::1]:8443", "", None),
    ],
)
def test_which_hosts_the_proxy_carries(
    monkeypatch: pytest.MonkeyPatch, url: str, no_proxy: str, expected: str | None
) -> None:
    monkeypatch.setenv("https_proxy", "http://proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", no_proxy)
    assert env_proxy(url) == expected


def test_a_proxy_named_without_a_scheme_is_an_http_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "proxy.corp:3128")
    assert env_proxy("https://graph.microsoft.com") == "http://proxy.corp:3128"


def test_without_a_proxy_in_the_environment_graph_goes_direct() -> None:
    assert env_proxy("https://graph.microsoft.com") is None


def test_an_http_proxy_is_not_used_for_https_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP_PROXY names the proxy for http:// URLs only, as requests reads it."""
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.corp:3128")
    assert env_proxy("https://graph.microsoft.com") is None


def test_the_sandbox_login_host_is_called_directly_though_https_proxy_is_set(
    sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make run` behind a proxy: requests would send MSAL's token call for the loopback
    sandbox to the proxy (here nothing listens there); it goes direct, as Graph's do."""
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{free_port()}")
    credential = MsalCredential.from_settings(make_settings(tmp_path, sandbox=sandbox))
    try:
        token = credential(force_refresh=False)
    finally:
        credential.close()
    assert token.token and not token.from_cache
    assert requests_session(None, "https://login.microsoftonline.com").trust_env  # proxied
