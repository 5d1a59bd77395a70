"""The transport under the Graph client: each call carries the request id, and is counted.

Graph takes a client-generated GUID in `client-request-id` and answers with it, so one id
ties pimbot's log lines to Graph's side: the tenant's Graph activity log keeps it
(`ClientRequestId`, https://learn.microsoft.com/en-us/azure/azure-monitor/reference/tables/microsoftgraphactivitylogs),
and Microsoft's Dev Proxy flags Graph calls made without one
(https://learn.microsoft.com/en-us/microsoft-cloud/dev/dev-proxy/technical-reference/graphclientrequestidguidanceplugin).
"""

from __future__ import annotations

import time

import httpx

from bot.logs import current_request_id, request_id_for
from bot.metrics import Metrics

CLIENT_REQUEST_ID = "client-request-id"


class ObservedTransport(httpx.AsyncBaseTransport):
    """Wraps `inner`: sets `client-request-id` (the current request's id, else a fresh
    GUID per call), and records each call's endpoint template, status and latency."""

    def __init__(self, inner: httpx.AsyncBaseTransport, metrics: Metrics | None) -> None:
        self._inner, self._metrics = inner, metrics

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.headers[CLIENT_REQUEST_ID] = current_request_id() or request_id_for(None)
        started = time.perf_counter()
        status: int | None = None
        try:
            response = await self._inner.handle_async_request(request)
            status = response.status_code
            return response
        finally:
            if self._metrics is not None:
                seconds = time.perf_counter() - started
                self._metrics.graph_call(request.url.path, request.method, status, seconds)

    async def aclose(self) -> None:
        await self._inner.aclose()
