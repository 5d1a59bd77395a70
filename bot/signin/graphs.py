"""The Graph clients of signed-in-user mode: one for every user, one per sign-in check.

    graphs = DelegatedGraphs(settings, apps, tokens, actor)
    with actor.acting_as("U123"):
        await graphs.graph.activate(spec)      # selfActivate with U123's delegated token

`graphs.graph` is the one `PimGraph` the services hold: its `ActingAuth` picks the acting
user's token for each request, and every user's calls share one connection pool.
"""

from __future__ import annotations

import httpx

from bot.clock import Clock
from bot.graph import GraphPim, build_graph, graph_http, graph_transport
from bot.graph.auth import AccessToken
from bot.metrics import Metrics
from bot.settings import Settings
from bot.signin.acting import ActingAuth, ActingUser
from bot.signin.msal_app import PublicApps
from bot.signin.tokens import UserTokens


class DelegatedGraphs:
    """Owns the user-mode Graph client and its connection pool (close with `aclose`)."""

    def __init__(
        self,
        settings: Settings,
        apps: PublicApps,
        tokens: UserTokens,
        actor: ActingUser,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        metrics: Metrics | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._settings, self._metrics = settings, metrics
        if transport is None:
            # One pool for every user: a TLS handshake per Graph call would otherwise
            # dominate each request's latency.
            transport = graph_transport(settings)
            self._owned: httpx.AsyncBaseTransport | None = transport
        else:
            self._owned = None  # an injected transport is closed by whoever made it
        self._transport = transport
        observe = metrics.token_observer("user") if metrics else None
        auth = ActingAuth(apps, tokens, actor, observe=observe)
        # Calls GraphPim lacks (the beta approvals API) use the same client and auth.
        self.http = graph_http(settings, auth, _Shared(transport), metrics)
        self.graph = build_graph(
            settings,
            identity="user",
            auth=auth,
            transport=_Shared(transport),
            metrics=metrics,
            clock=clock,
        )

    def with_token(self, access_token: str) -> GraphPim:
        """A GraphPim on one access token (a sign-in not yet stored: the login checks whose
        it is with it before keeping anything). Close it after use."""

        def fixed(*, force_refresh: bool) -> AccessToken:
            return AccessToken(access_token, 3600.0)

        return build_graph(
            self._settings,
            identity="user",
            credential=fixed,
            transport=_Shared(self._transport),
            metrics=self._metrics,
        )

    async def aclose(self) -> None:
        await self.graph.aclose()
        await self.http.aclose()
        if self._owned is not None:
            await self._owned.aclose()


class _Shared(httpx.AsyncBaseTransport):
    """A view of the shared transport that closing a client does not close."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        return None
