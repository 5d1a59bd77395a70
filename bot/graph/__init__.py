"""The Graph PIM adapter: `build_graph(settings)` wires client, auth and retries.

Importing this package does no work; `build_graph` creates the one AsyncClient.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import httpx

from bot.clock import Clock
from bot.graph.auth import AccessToken, CountedTokens, GraphAuth, TokenSource
from bot.graph.client import GraphClient
from bot.graph.observed import ObservedTransport
from bot.graph.pim import GraphPim, Identity
from bot.graph.retry import RetryPolicy
from bot.graph.tls import trust
from bot.graph.wire import AiohttpTransport, env_proxy, shown
from bot.metrics import Metrics
from bot.settings import Settings

__all__ = [
    "AccessToken",
    "GraphAuth",
    "GraphClient",
    "GraphPim",
    "Identity",
    "RetryPolicy",
    "TokenSource",
    "build_graph",
    "graph_http",
    "graph_transport",
]

TIMEOUT = httpx.Timeout(30.0, connect=10.0)
log = logging.getLogger(__name__)


def build_graph(
    settings: Settings,
    *,
    identity: Identity = "application",
    auth: httpx.Auth | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    credential: TokenSource | None = None,
    retry: RetryPolicy | None = None,
    metrics: Metrics | None = None,
    clock: Clock | None = None,
) -> GraphPim:
    """GraphPim over one httpx.AsyncClient (close it with `aclose`). The token comes from
    `auth` if given (user mode: the acting user's), else `credential`, else MSAL with the
    AZURE_* settings (the application identity). `metrics`: where its calls are counted;
    `clock`: what bounds the lifetime of the reads it keeps."""
    auth = auth or _app_auth(settings, credential, metrics)
    http = graph_http(settings, auth, transport, metrics)
    client = GraphClient(http, retry=retry, delegated=identity == "user")
    kept_for = timedelta(seconds=settings.pim_eligibility_cache_seconds)
    return GraphPim(client, identity=identity, clock=clock, kept_for=kept_for)


def graph_http(
    settings: Settings,
    auth: httpx.Auth,
    transport: httpx.AsyncBaseTransport | None = None,
    metrics: Metrics | None = None,
) -> httpx.AsyncClient:
    """An AsyncClient on the Graph base URL with `auth`; the one place its options live.
    Every call carries the request id (`client-request-id`) and is counted in `metrics`."""
    if transport is None:
        transport = graph_transport(settings)
    return httpx.AsyncClient(
        base_url=settings.pim_graph_url.rstrip("/"),
        auth=auth,
        timeout=TIMEOUT,
        transport=ObservedTransport(transport, metrics),
        headers={"Accept": "application/json"},
    )


def graph_transport(settings: Settings) -> httpx.AsyncBaseTransport:
    """The connection pool under Graph calls: the usual roots, plus `PIM_CA_FILE`; through
    the proxy HTTPS_PROXY names, as MSAL's token calls and Slack's go."""
    proxy = env_proxy(settings.pim_graph_url)
    if proxy:
        log.info("Graph calls go through the proxy at %s", shown(proxy))
    return AiohttpTransport(trust(settings.pim_ca_file), proxy=proxy)


def _app_auth(
    settings: Settings, credential: TokenSource | None, metrics: Metrics | None
) -> GraphAuth:
    if credential is None:
        from bot.graph.msal_credential import MsalCredential

        credential = MsalCredential.from_settings(settings)
        if metrics is not None:  # only MSAL's calls are token acquisitions worth counting
            credential = CountedTokens(credential, metrics.token_observer("application"))
    return GraphAuth(credential)
