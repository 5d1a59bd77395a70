"""The Graph PIM adapter: `build_graph(settings)` wires client, auth and retries.

Importing this package does no work; `build_graph` creates the one AsyncClient.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx

from bot.graph.auth import GraphAuth, TokenSource
from bot.graph.client import GraphClient
from bot.graph.pim import GraphPim
from bot.graph.retry import RetryPolicy
from bot.settings import Settings

__all__ = ["GraphPim", "RetryPolicy", "build_graph"]

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
        verify=_verify(settings.pim_ca_file),
        transport=transport,
        headers={"Accept": "application/json"},
    )
    client = GraphClient(http, retry=retry)
    return GraphPim(client, identity=settings.policy().graph.identity)


def _verify(ca_file: Path | None) -> ssl.SSLContext | bool:
    # The extra CA (the sandbox's self-signed cert) is trusted on top of the usual roots.
    if ca_file is None:
        return True
    import certifi

    context = ssl.create_default_context(cafile=certifi.where())
    context.load_verify_locations(cafile=str(ca_file))
    return context
