"""ActingGraph: the one `PimGraph` the services hold in user mode.

Every call acts as the Slack user the current task is working for, set by
`acting_as(slack_user_id)` at each use case's entry (a request, a click, a reconcile of
one user). So the identity resolver, the policy cache and the role queries keep calling
one port, and each call still carries that user's own delegated token, never the bot's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import httpx

from bot.errors import GraphUnavailable
from bot.graph.tls import trust
from bot.settings import Settings
from bot.signin.bound import BoundGraph
from bot.signin.graphs import DelegatedGraphs


class NobodyActing(RuntimeError):
    """A Graph call was made in user mode outside any `acting_as` block (a bug)."""


class ActingGraph(BoundGraph):
    """A BoundGraph whose user is whoever `acting_as` names for the running task."""

    def __init__(self, graphs: DelegatedGraphs, settings: Settings) -> None:
        super().__init__(graphs, "")
        self._settings = settings
        # Per instance, not per module: each wired bot has its own notion of "who".
        self._actor: ContextVar[str | None] = ContextVar("pimbot_actor", default=None)

    @contextmanager
    def acting_as(self, slack_user_id: str) -> Iterator[None]:
        token = self._actor.set(slack_user_id)
        try:
            yield
        finally:
            self._actor.reset(token)

    def _who(self) -> str:
        actor = self._actor.get()
        if actor is None:
            raise NobodyActing("user mode: a Graph call with no acting user")
        return actor

    async def check_token(self) -> None:
        """With nobody acting (health checks): is Entra's sign-in service answering?"""
        if self._actor.get() is not None:
            await super().check_token()
            return
        s = self._settings
        authority = f"{s.azure_authority_host.rstrip('/')}/{s.azure_tenant_id}"
        url = f"{authority}/v2.0/.well-known/openid-configuration"
        verify = trust(s.pim_ca_file) if s.pim_ca_file else True
        try:
            async with httpx.AsyncClient(verify=verify, timeout=10) as http:
                response = await http.get(url)
            response.raise_for_status()
            if "device_authorization_endpoint" not in response.json():
                raise ValueError("no device_authorization_endpoint")
        except (httpx.HTTPError, ValueError) as exc:
            raise GraphUnavailable(
                f"Microsoft Entra sign-in is not answering ({type(exc).__name__}).",
                code="loginUnavailable",
            ) from exc
