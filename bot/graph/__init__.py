"""The Graph PIM adapter: `build_graph(settings)` wires client, auth and retries.

Importing this package does no work; `build_graph` creates the one AsyncClient.
"""

from __future__ import annotations

import httpx

from bot.graph.auth import AccessToken, GraphAuth, TokenSource
from bot.graph.client import GraphClient
from bot.graph.pim import GraphPim
from bot.graph.retry import RetryPolicy
from bot.graph.tls import trust
from bot.settings import Settings

__all__ = [
    "AccessToken",
    "GraphAuth",
    "GraphClient",
    "GraphPim",
    "RetryPolicy",
    "TokenSource",
    "build_graph",
]

TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def build_graph(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    credential: TokenSource | None = None,
    retry: RetryPolicy | None = None,
) -> GraphPim:
    """GraphPim over one httpx.AsyncClient for the process (close it with `aclose`).

    `credential` defaults to MSAL with the AZURE_* settings; pass a delegated-token
    source when pimbot.yml sets `graph.identity: user`.
    """
    if credential is None:
        from bot.graph.msal_credential import MsalCredential

        credential = MsalCredential.from_settings(settings)
    http = httpx.AsyncClient(
        base_url=settings.pim_graph_url.rstrip("/"),
        auth=GraphAuth(credential),
        timeout=TIMEOUT,
        verify=trust(settings.pim_ca_file) if settings.pim_ca_file else True,
        transport=transport,
        headers={"Accept": "application/json"},
    )
    client = GraphClient(http, retry=retry)
    return GraphPim(client, identity=settings.policy().graph.identity)
