"""GraphAuth: the one place that holds a Graph bearer token (principle 8).

The token comes from a `TokenSource`: `MsalCredential` (client secret or certificate)
in production, any function in tests. It is cached until shortly before expiry,
fetched off the event loop, and refreshed once when Graph answers 401.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass, field
from typing import Protocol

import httpx


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A bearer token and its lifetime in seconds from when it was issued; `from_cache`:
    MSAL served it from its token cache, without calling the authority."""

    token: str = field(repr=False)
    expires_in: float
    from_cache: bool = False


class TokenSource(Protocol):
    """Blocking token fetch; `force_refresh` must bypass any cache."""

    def __call__(self, *, force_refresh: bool) -> AccessToken: ...


class CountedTokens:
    """A `TokenSource` that reports each acquisition to `observe(source, seconds)`, with
    `source` "cache" (MSAL's cache), "authority" (a call to the token endpoint) or
    "error" (no token came)."""

    def __init__(
        self,
        source: TokenSource,
        observe: Callable[[str, float], None],
        *,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._source, self._observe, self._timer = source, observe, timer

    def __call__(self, *, force_refresh: bool) -> AccessToken:
        started = self._timer()
        try:
            token = self._source(force_refresh=force_refresh)
        except Exception:
            self._observe("error", self._timer() - started)
            raise
        self._observe("cache" if token.from_cache else "authority", self._timer() - started)
        return token

    def close(self) -> None:
        close = getattr(self._source, "close", None)
        if callable(close):
            close()


class GraphAuth(httpx.Auth):
    """httpx auth flow: `Authorization: Bearer …`, one refresh and resend on 401."""

    def __init__(
        self,
        source: TokenSource,
        *,
        refresh_margin: float = 300.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._margin = refresh_margin
        self._monotonic = monotonic
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock: asyncio.Lock | None = None

    async def token(self, *, rejected: str | None = None) -> str:
        """The cached token; fetched anew when missing, near expiry, or `rejected` by Graph."""
        async with self._get_lock():
            # Several requests may be turned away with the same token: refresh only once.
            force = rejected is not None and rejected == self._token
            if force or not self._fresh():
                await self._fetch(force)
            assert self._token is not None  # noqa: S101 - _fetch sets it or raises
            return self._token

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        sent = await self.token()
        request.headers["Authorization"] = f"Bearer {sent}"
        response = yield request
        if response.status_code == 401:
            request.headers["Authorization"] = f"Bearer {await self.token(rejected=sent)}"
            yield request

    def close(self) -> None:
        """Release the token source's connections, if it holds any."""
        close = getattr(self._source, "close", None)
        if callable(close):
            close()

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        raise RuntimeError("GraphAuth works with httpx.AsyncClient only")
        yield request  # pragma: no cover - makes this a generator, as httpx expects

    def _fresh(self) -> bool:
        return self._token is not None and self._monotonic() < self._expires_at

    async def _fetch(self, force_refresh: bool) -> None:
        # MSAL does blocking HTTP; keep it off the event loop so Slack acks stay fast.
        issued = self._monotonic()
        result = await asyncio.to_thread(self._source, force_refresh=force_refresh)
        self._token = result.token
        self._expires_at = issued + max(result.expires_in - self._margin, 0.0)

    def _get_lock(self) -> asyncio.Lock:
        # Created on first use so that constructing GraphAuth needs no running loop.
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock
