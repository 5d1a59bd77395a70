"""The Graph client's wire: httpx's transport interface over one aiohttp session.

Why not httpx's own transport: with 50 activations in flight, httpcore was about a third
of the bot's CPU. Its pool re-checks every connection it holds for each request it
assigns (https://github.com/encode/httpcore/pull/1035), and anyio rebuilds a socket's
attributes on every check. aiohttp's connector keeps idle connections per host in a queue,
and slack_sdk already runs on it. `python -m bench --only throughput`, this machine: the
bot's CPU per activation 23.4 ms over httpx (24-26 ms with 100 kept-alive connections),
11.4 ms over this; 35 activations/s became 69.

Why not the httpx-aiohttp package: its exception map calls any dropped connection a
connect timeout. GraphClient reads that as "never sent" and would resend a POST blindly
(bot/graph/retry.py). Here a failure is "unsent" only when no connection was made; every
other failure may have reached Graph, so a POST's `recover` looks for it first.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
import httpx

# Most specific first: ConnectionTimeoutError is also a ServerTimeoutError, and
# ClientConnectorError a ClientOSError (aiohttp's hierarchy of exceptions,
# https://docs.aiohttp.org/en/stable/client_reference.html#hierarchy-of-exceptions; the
# two typed timeouts since 3.10, aiohttp/client_exceptions.py).
_UNSENT: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),  # no connection within `pool`
    (aiohttp.ClientConnectorError, httpx.ConnectError),  # refused, DNS, TLS handshake
)
_AMBIGUOUS: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.SocketTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.ReadError),
    (aiohttp.ClientError, httpx.ReadError),  # anything else: it may have been sent
    (asyncio.TimeoutError, httpx.ReadTimeout),
)


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Sends each request on a pooled connection of one aiohttp session (one per event
    loop: a session belongs to the loop it was made on) and reads the whole answer
    before returning: Graph's answers are JSON pages, and a connection goes back to
    the pool as soon as its answer is read."""

    def __init__(self, tls: ssl.SSLContext, *, limit: int = 100) -> None:
        self._tls, self._limit = tls, limit
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session_here()
        timeout = request.extensions.get("timeout", {})
        body = await request.aread()
        with _as_httpx_errors(request):
            async with session.request(
                request.method,
                str(request.url),
                headers=list(request.headers.multi_items()),
                data=body or None,
                allow_redirects=False,
                auto_decompress=False,  # httpx decodes by Content-Encoding
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=timeout.get("pool"),
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                ),
            ) as answer:
                content = await answer.read()
                status, headers, reason = answer.status, answer.raw_headers, answer.reason
        extensions = {"http_version": b"HTTP/1.1"}
        if reason:
            extensions["reason_phrase"] = reason.encode()
        return httpx.Response(
            status, headers=headers, content=content, request=request, extensions=extensions
        )

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    def _session_here(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            connector = aiohttp.TCPConnector(ssl=self._tls, limit=self._limit)
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
            self._loop = loop
        return self._session


@contextmanager
def _as_httpx_errors(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except httpx.TransportError:
        raise
    except (TimeoutError, aiohttp.ClientError) as exc:
        for source, target in (*_UNSENT, *_AMBIGUOUS):
            if isinstance(exc, source):
                raise target(str(exc) or type(exc).__name__, request=request) from exc
        raise
