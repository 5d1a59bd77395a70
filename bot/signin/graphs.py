"""Graph clients that act as one signed-in user (`graph.identity: user`).

    graphs = DelegatedGraphs(settings, apps, tokens)
    async with graphs.session(slack_user_id) as graph:      # a GraphPim, identity "user"
        await graph.activate(spec)                            # selfActivate as the user

`run(slack_user_id, operation)` adds the step-up dance: on a claims challenge it first
retries silently with the claims (enough after CAE events, or when the user's session
already satisfied them); if Entra needs the user, `StepUpRequired` reaches the caller,
who starts `LoginService.start_login(..., claims=...)` and resumes afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import httpx

from bot.errors import StepUpRequired
from bot.graph import GraphPim, build_graph
from bot.graph.auth import AccessToken, GraphAuth
from bot.graph.tls import trust
from bot.settings import Settings
from bot.signin.bound import BoundGraph
from bot.signin.challenge import ChallengeTransport
from bot.signin.credential import UserTokenSource
from bot.signin.msal_app import PublicApps
from bot.signin.tokens import UserTokens

T = TypeVar("T")
TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class DelegatedGraphs:
    """Builds per-user Graph clients; each must be closed (`session` does it)."""

    def __init__(
        self,
        settings: Settings,
        apps: PublicApps,
        tokens: UserTokens,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._settings, self._apps, self._tokens = settings, apps, tokens
        self._transport = transport
        self._owns_transport = False  # an injected transport is closed by whoever made it

    def source(self, slack_user_id: str, claims: str | None = None) -> UserTokenSource:
        return UserTokenSource(self._apps, self._tokens, slack_user_id, claims)

    def graph_for(self, slack_user_id: str, *, claims: str | None = None) -> GraphPim:
        """A GraphPim (self actions, filterByCurrentUser) with the user's delegated token."""
        return build_graph(
            self._settings,
            credential=self.source(slack_user_id, claims),
            transport=self._challenging(slack_user_id),
        )

    def with_token(self, access_token: str) -> GraphPim:
        """A GraphPim on one access token (a sign-in not yet stored: `/pim login` checks
        whose it is with it before keeping anything)."""

        def fixed(*, force_refresh: bool) -> AccessToken:
            return AccessToken(access_token, 3600.0)

        return build_graph(self._settings, credential=fixed, transport=self._challenging(None))

    @asynccontextmanager
    async def session(
        self, slack_user_id: str, *, claims: str | None = None
    ) -> AsyncIterator[GraphPim]:
        graph = self.graph_for(slack_user_id, claims=claims)
        try:
            yield graph
        finally:
            await graph.aclose()

    async def run(self, slack_user_id: str, operation: Callable[[GraphPim], Awaitable[T]]) -> T:
        """`operation(graph)` as the user; on a claims challenge, once more with the claims."""
        try:
            async with self.session(slack_user_id) as graph:
                return await operation(graph)
        except StepUpRequired as challenge:
            claims = challenge.claims
        async with self.session(slack_user_id, claims=claims) as graph:
            return await operation(graph)

    def bound(self, slack_user_id: str) -> BoundGraph:
        """A `bot.service.ports.PimGraph` whose every call acts as `slack_user_id`."""
        return BoundGraph(self, slack_user_id)

    def http_for(self, slack_user_id: str, *, claims: str | None = None) -> httpx.AsyncClient:
        """A bare client on the Graph base URL, for calls GraphPim lacks (beta approvals)."""
        return httpx.AsyncClient(
            base_url=self._settings.pim_graph_url.rstrip("/"),
            auth=GraphAuth(self.source(slack_user_id, claims)),
            timeout=TIMEOUT,
            transport=self._challenging(slack_user_id),
            headers={"Accept": "application/json"},
        )

    def _challenging(self, slack_user_id: str | None) -> ChallengeTransport:
        if self._transport is None:
            # One connection pool for every user's short-lived client: a TLS handshake
            # per Graph call would otherwise dominate each request's latency.
            ca_file = self._settings.pim_ca_file
            self._transport = httpx.AsyncHTTPTransport(verify=trust(ca_file) if ca_file else True)
            self._owns_transport = True
        return ChallengeTransport(self._transport, slack_user_id, owns=False)

    async def aclose(self) -> None:
        if self._transport is not None and self._owns_transport:
            await self._transport.aclose()
            self._transport = None
