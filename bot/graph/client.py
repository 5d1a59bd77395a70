"""GraphClient: JSON over an injected httpx.AsyncClient, with retries and typed errors.

Reads (GET) are retried on throttling, transient 5xx and transport errors. A POST is
resent blindly only when Graph cannot have applied it (429, or the connection was
never made); after an ambiguous failure (read timeout, dropped response, 5xx) the
caller's `recover` coroutine first looks for the applied result, so an activation is
never submitted twice.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from bot.errors import GraphError
from bot.graph.auth import GraphAuth
from bot.graph.envelope import error_from_response, give_up
from bot.graph.retry import (
    AMBIGUOUS_ERRORS,
    RETRY_STATUSES,
    UNSENT_ERRORS,
    RetryPolicy,
    parse_retry_after,
)

Json = dict[str, Any]
Recover = Callable[[], Awaitable[Json | None]]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class _Failure:
    """A retryable failure: the response if there was one, and whether it may have applied."""

    response: httpx.Response | None
    ambiguous: bool
    retry_after: float | None = None


class GraphClient:
    """GET / paged GET / POST against Graph, raising `bot.errors.GraphError` subclasses."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
        delegated: bool = False,
    ) -> None:
        self._http = http
        self._delegated = delegated  # a signed-in user's token: a 403 is about their roles
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._monotonic = monotonic
        self._rand = rand
        # Graph throttles the client app, not one request
        # (https://learn.microsoft.com/graph/throttling: "limits any further requests from
        # that client app for some time"): one 429's Retry-After holds back every caller
        # of this client until it has passed, instead of each meeting its own 429.
        self._paused_until = 0.0

    async def get(
        self,
        path: str,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Json:
        return await self._send("GET", path, params=params, headers=headers, idempotent=True)

    async def get_all(
        self,
        path: str,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> list[Json]:
        """Every item of a collection, following `@odata.nextLink` page by page (with the
        same headers: an advanced query's ConsistencyLevel applies to every page)."""
        page = await self.get(path, params, headers)
        items: list[Json] = list(page.get("value", []))
        while next_link := page.get("@odata.nextLink"):
            page = await self.get(self._same_origin(str(next_link)), headers=headers)
            items.extend(page.get("value", []))
        return items

    async def post(
        self, path: str, body: Json | None = None, *, recover: Recover | None = None
    ) -> Json:
        """POST once; after an ambiguous failure resend only if `recover()` finds nothing.

        Without `recover`, an ambiguous failure is not retried at all.
        """
        return await self._send("POST", path, json=body, idempotent=False, recover=recover)

    async def aclose(self) -> None:
        auth = self._http.auth
        await self._http.aclose()
        if isinstance(auth, GraphAuth):
            auth.close()

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        json: Json | None = None,
        idempotent: bool,
        recover: Recover | None = None,
    ) -> Json:
        started = self._monotonic()
        attempt = 0
        while True:
            attempt += 1
            await self._wait_out_throttle()
            outcome = await self._attempt(method, path, params, headers, json)
            if not isinstance(outcome, _Failure):
                return outcome
            must_check = outcome.ambiguous and not idempotent
            if must_check and recover is None:
                raise give_up(outcome.response, maybe_applied=True)
            delay = self._retry.delay(attempt, outcome.retry_after, self._rand)
            more = self._retry.allows(attempt, self._monotonic() - started, delay)
            if more:
                await self._sleep(delay)
            if must_check and recover is not None and (found := await recover()) is not None:
                return found
            if not more:
                raise give_up(outcome.response)

    async def _attempt(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None,
        headers: dict[str, str] | None,
        json: Json | None,
    ) -> Json | _Failure:
        try:
            response = await self._http.request(
                method, path, params=params, headers=headers, json=json
            )
        except UNSENT_ERRORS:
            return _Failure(None, ambiguous=False)
        except AMBIGUOUS_ERRORS:
            return _Failure(None, ambiguous=True)
        if response.status_code < 400:
            return _body(response)
        if response.status_code not in RETRY_STATUSES:
            raise error_from_response(response, delegated=self._delegated)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if response.status_code == 429 and retry_after:
            until = self._monotonic() + min(retry_after, self._retry.max_retry_after)
            self._paused_until = max(self._paused_until, until)
        # Graph throttles before doing any work, so a 429 was never applied.
        return _Failure(response, ambiguous=response.status_code != 429, retry_after=retry_after)

    async def _wait_out_throttle(self) -> None:
        wait = self._paused_until - self._monotonic()
        if wait > 0:
            await self._sleep(wait)

    def _same_origin(self, link: str) -> str:
        # A nextLink to another host would carry our bearer token there: refuse it.
        url, base = httpx.URL(link), self._http.base_url
        if url.is_absolute_url and (url.scheme, url.host, url.port) != (
            base.scheme,
            base.host,
            base.port,
        ):
            raise GraphError("Graph returned a paging link to another host.", code="badNextLink")
        return link


def _body(response: httpx.Response) -> Json:
    if response.status_code == 204 or not response.content:
        return {}
    try:
        data = response.json()
    except ValueError:
        raise GraphError(
            "Microsoft Graph sent an answer the bot could not read.",
            code="unreadableResponse",
            status=response.status_code,
            request_id=response.headers.get("request-id"),
        ) from None
    return data if isinstance(data, dict) else {"value": data}
