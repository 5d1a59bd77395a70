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

Behind an egress proxy: aiohttp, "contrary to the requests library, won't read
environment variables by default" (https://docs.aiohttp.org/en/stable/client_advanced.html#proxy-support),
while MSAL's token calls (requests) and slack_sdk (`load_http_proxy_from_env`) do. So the
proxy the environment names is resolved once, with the same rules requests uses
(`urllib.request.getproxies`, `proxy_bypass` for NO_PROXY), and given to every request:
not aiohttp's `trust_env`, which looks both up again on a thread for every request and
also reads ~/.netrc for credentials to add.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import aiohttp
import httpx

# Most specific first: ConnectionTimeoutError is also a ServerTimeoutError, and
# ClientConnectorError a ClientOSError (aiohttp's hierarchy of exceptions,
# https://docs.aiohttp.org/en/stable/client_reference.html#hierarchy-of-exceptions; the
# two typed timeouts since 3.10, aiohttp/client_exceptions.py).
_UNSENT: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),  # no connection within `pool`
    (aiohttp.ClientConnectorError, httpx.ConnectError),  # refused, DNS, TLS handshake
    # The proxy refused the tunnel (407, 403, 502): CONNECT comes before any byte of the
    # request, so Graph saw nothing.
    (aiohttp.ClientHttpProxyError, httpx.ProxyError),
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

    def __init__(self, tls: ssl.SSLContext, *, limit: int = 100, proxy: str | None = None) -> None:
        """`proxy`: every request goes through it (`env_proxy`), a tunnel per connection."""
        self._tls, self._limit, self.proxy = tls, limit, proxy
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
                proxy=self.proxy,
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


def env_proxy(url: str) -> str | None:
    """The proxy HTTPS_PROXY / HTTP_PROXY name for `url`, unless NO_PROXY exempts its host
    (either case of each name). Never for a loopback host (the embedded sandbox tenant): a
    proxy's own loopback is not this machine's."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host or loopback(url) or urllib.request.proxy_bypass(host):
        return None
    proxy = urllib.request.getproxies().get(parts.scheme)
    if not proxy:
        return None
    # "proxy:3128" is read as http://proxy:3128, as requests reads it (prepend_scheme_if_needed).
    return proxy if "://" in proxy else f"http://{proxy}"


def loopback(url: str) -> bool:
    """Whether `url`'s host is this machine (localhost, 127.0.0.0/8, ::1)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def shown(proxy: str) -> str:
    """`proxy` fit for a log line: its credentials left out."""
    parts = urlsplit(proxy)
    where = parts.hostname or "?"
    return f"{parts.scheme}://{where}:{parts.port}" if parts.port else f"{parts.scheme}://{where}"


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
