"""The Graph wire (bot/graph/wire.py) over real sockets: answers come back whole, and each
failure is classed as GraphClient needs it. "Unsent" lets a POST be resent as is; anything
that may have reached Graph must make the POST look for its result first."""

from __future__ import annotations

import asyncio
import gzip
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from bot.graph import GraphAuth
from bot.graph.auth import AccessToken
from bot.graph.client import GraphClient
from bot.graph.retry import AMBIGUOUS_ERRORS, UNSENT_ERRORS, RetryPolicy
from bot.graph.tls import trust
from bot.graph.wire import AiohttpTransport
from bot.simulators.sandbox.tls import write_self_signed

Reply = Callable[[bytes, asyncio.StreamWriter], Awaitable[None]]


class Server:
    """A one-route HTTP/1.1 server on 127.0.0.1 that records what it was sent and
    answers with `reply` (which may also drop the connection or say nothing)."""

    def __init__(self, reply: Reply) -> None:
        self.reply, self.requests, self.url = reply, list[bytes](), ""
        self.connections: dict[asyncio.StreamWriter, asyncio.Task[None]] = {}

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.connections[writer] = task
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                await self.reply(request, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def serving(reply: Reply, tls: ssl.SSLContext | None = None) -> AsyncIterator[Server]:
    server = Server(reply)
    listener = await asyncio.start_server(server._serve, "127.0.0.1", 0, ssl=tls)
    port = listener.sockets[0].getsockname()[1]
    server.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    try:
        async with listener:
            yield server
    finally:  # connections kept alive end with the test, not with its event loop
        for writer, task in server.connections.items():
            writer.close()
            task.cancel()
        await asyncio.gather(*server.connections.values(), return_exceptions=True)


def answer(status: int, body: bytes, *headers: tuple[str, str]) -> Reply:
    async def reply(request: bytes, writer: asyncio.StreamWriter) -> None:
        lines = [f"HTTP/1.1 {status} Whatever", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await writer.drain()

    return reply


async def hang_up(request: bytes, writer: asyncio.StreamWriter) -> None:
    writer.close()  # the request was read in full: Graph may have applied it


async def say_nothing(request: bytes, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(30)


def client(url: str, tls: ssl.SSLContext | None = None, *, read: float = 5.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=url,
        transport=AiohttpTransport(tls or trust(None)),
        timeout=httpx.Timeout(read, connect=2.0),
    )


async def test_an_answer_comes_back_whole_and_decoded_and_the_request_as_sent() -> None:
    page = {"value": [{"id": "a"}], "@odata.nextLink": None}
    zipped = gzip.compress(json.dumps(page).encode())
    reply = answer(200, zipped, ("Content-Encoding", "gzip"), ("request-id", "r-1"))
    async with serving(reply) as server, client(server.url) as http:
        response = await http.post(
            "/v1.0/things?$top=1", json={"justification": "é"}, headers={"x-one": "1"}
        )
    assert response.status_code == 200
    assert response.json() == page
    assert response.headers["request-id"] == "r-1"
    [sent] = server.requests
    assert sent.startswith(b"POST /v1.0/things?$top=1 HTTP/1.1\r\n")
    assert b"\r\nx-one: 1\r\n" in sent.lower()
    assert json.loads(sent.split(b"\r\n\r\n", 1)[1]) == {"justification": "é"}


async def test_connections_are_reused() -> None:
    reply = answer(200, b"{}", ("Content-Type", "application/json"))
    async with serving(reply) as server, client(server.url) as http:
        for _ in range(5):
            assert (await http.get("/v1.0/me")).status_code == 200
    assert (len(server.requests), len(server.connections)) == (5, 1)


async def test_a_refused_connection_is_unsent() -> None:
    async with serving(hang_up) as server:
        url = server.url
    async with client(url) as http:  # nothing listens there any more
        with pytest.raises(UNSENT_ERRORS):
            await http.post("/v1.0/requests", json={})


async def test_a_certificate_not_trusted_is_unsent_and_a_trusted_one_works(
    tmp_path: Path,
) -> None:
    cert, key = write_self_signed(tmp_path)
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    async with serving(answer(200, b"{}"), tls=served) as server:
        async with client(server.url) as http:
            with pytest.raises(httpx.ConnectError):
                await http.get("/v1.0/me")
        async with client(server.url, trust(cert)) as http:
            assert (await http.get("/v1.0/me")).status_code == 200
    assert len(server.requests) == 1  # the untrusted handshake sent nothing


async def test_a_connection_dropped_after_the_request_is_ambiguous() -> None:
    async with serving(hang_up) as server, client(server.url) as http:
        with pytest.raises(AMBIGUOUS_ERRORS) as caught:
            await http.post("/v1.0/requests", json={})
    assert not isinstance(caught.value, UNSENT_ERRORS)
    assert len(server.requests) == 1


async def test_no_answer_within_the_read_timeout_is_ambiguous() -> None:
    async with serving(say_nothing) as server, client(server.url, read=0.2) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.post("/v1.0/requests", json={})
    assert httpx.ReadTimeout in AMBIGUOUS_ERRORS


async def test_a_post_whose_connection_dropped_is_looked_for_not_resent() -> None:
    """What the classing is for: a dropped activation POST is recovered, not sent twice."""
    looked = 0

    async def recover() -> dict[str, str] | None:
        nonlocal looked
        looked += 1
        return {"id": "found", "status": "Provisioned"}

    async with serving(hang_up) as server:
        auth = GraphAuth(lambda *, force_refresh: AccessToken("t0k3n", 3600))
        http = httpx.AsyncClient(
            base_url=server.url, auth=auth, transport=AiohttpTransport(trust(None))
        )
        graph = GraphClient(http, retry=RetryPolicy.fast())
        try:
            found = await graph.post("/v1.0/requests", {"action": "selfActivate"}, recover=recover)
        finally:
            await graph.aclose()
    assert found == {"id": "found", "status": "Provisioned"}
    assert (looked, len(server.requests)) == (1, 1)
    assert b"authorization: bearer t0k3n" in server.requests[0].lower()


async def test_a_closed_transport_opens_a_new_session_on_next_use() -> None:
    transport = AiohttpTransport(trust(None))
    async with serving(answer(200, b"{}")) as server:
        http = httpx.AsyncClient(base_url=server.url, transport=transport)
        assert (await http.get("/a")).status_code == 200
        await transport.aclose()
        assert (await http.get("/b")).status_code == 200
        await http.aclose()
    assert len(server.requests) == 2
