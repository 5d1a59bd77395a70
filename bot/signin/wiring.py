"""Signed-in-user mode, wired from settings: the adapter the use cases see through ports.

    parts = build_user_mode(settings, engine=engine, clock=clock)
    identity = IdentityResolver(parts.graph, ...)          # reads Graph as the acting user
    sign_ins = parts.sign_ins(identity, audit=store)       # implements SignIns

`parts.actor` implements `Actors` (the one way to act as a user), `parts.graph` the
`PimGraph`, `parts.approvals` the `EntraApprovals`, `parts.kept` the `KeptStore`.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy.engine import Engine

from bot.clock import Clock
from bot.errors import GraphUnavailable
from bot.graph import GraphPim
from bot.graph.tls import trust
from bot.metrics import Metrics
from bot.settings import Settings
from bot.signin.acting import ActingUser
from bot.signin.approvals import PimApprovals
from bot.signin.crypto import cipher_from_settings, require_signin_config
from bot.signin.graphs import DelegatedGraphs
from bot.signin.login import LoginService, Resolver
from bot.signin.msal_app import PublicApps
from bot.signin.pending import PendingFlows
from bot.signin.tokens import UserTokens
from bot.signin.verify import AuditLog
from bot.store.kept import SqlKeptWork
from bot.store.pending_logins import SqlPendingLogins
from bot.store.user_tokens import SqlUserTokens


@dataclass(frozen=True, slots=True)
class UserModeParts:
    """What signed-in-user mode adds to the bot; `sign_ins` completes it once the
    identity resolver (which reads Graph through `graph`) exists."""

    settings: Settings
    clock: Clock
    actor: ActingUser
    graphs: DelegatedGraphs
    approvals: PimApprovals
    tokens: UserTokens
    apps: PublicApps
    flows: PendingFlows
    kept: SqlKeptWork

    @property
    def graph(self) -> GraphPim:
        return self.graphs.graph

    def sign_ins(self, resolver: Resolver, *, audit: AuditLog) -> LoginService:
        return LoginService(
            self.apps,
            self.tokens,
            resolver,
            audit,
            self.clock,
            graph_with=self.graphs.with_token,
            flows=self.flows,
            health=lambda: login_service_answers(self.settings),
        )

    async def aclose(self) -> None:
        await self.graphs.aclose()
        self.apps.close()


def build_user_mode(
    settings: Settings,
    *,
    engine: Engine,
    clock: Clock,
    transport: httpx.AsyncBaseTransport | None = None,
    metrics: Metrics | None = None,
) -> UserModeParts:
    """Raises ConfigError (naming PIM_TOKEN_KEY, or the AZURE_* ids) when misconfigured.
    `engine` is the store's, migrated to include the sign-in tables; Graph calls are
    counted in `metrics`."""
    require_signin_config(settings)
    cipher = cipher_from_settings(settings)
    tokens = UserTokens(SqlUserTokens(engine), cipher, clock)
    apps = PublicApps.from_settings(settings)
    actor = ActingUser()
    graphs = DelegatedGraphs(
        settings, apps, tokens, actor, transport=transport, metrics=metrics, clock=clock
    )
    return UserModeParts(
        settings,
        clock,
        actor,
        graphs,
        PimApprovals(graphs, tokens, actor),
        tokens,
        apps,
        PendingFlows(SqlPendingLogins(engine), cipher),
        SqlKeptWork(engine),
    )


async def login_service_answers(settings: Settings) -> None:
    """Health in user mode (nobody is acting): does Entra's OIDC discovery answer and
    offer the device-code flow?"""
    authority = f"{settings.azure_authority_host.rstrip('/')}/{settings.azure_tenant_id}"
    url = f"{authority}/v2.0/.well-known/openid-configuration"
    verify = trust(settings.pim_ca_file) if settings.pim_ca_file else True
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
