"""build_signin: the Slack-free services of signed-in-user mode, wired from settings."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy.engine import Engine

from bot.clock import Clock
from bot.settings import Settings
from bot.signin.approvals import PimApprovals
from bot.signin.crypto import cipher_from_settings
from bot.signin.graphs import DelegatedGraphs
from bot.signin.login import LoginService, Resolver
from bot.signin.models import LoginListener
from bot.signin.msal_app import PublicApps
from bot.signin.pending import PendingFlows
from bot.signin.tokens import UserTokens
from bot.signin.verify import AuditLog
from bot.store.deferred import SqlDeferredWork
from bot.store.pending_logins import SqlPendingLogins
from bot.store.user_tokens import SqlUserTokens


@dataclass(frozen=True, slots=True)
class SignIn:
    """Everything the Slack layer calls in user mode."""

    login: LoginService
    graphs: DelegatedGraphs
    approvals: PimApprovals
    tokens: UserTokens
    apps: PublicApps
    deferred: SqlDeferredWork  # clicks and requests kept until their user signs in

    async def aclose(self) -> None:
        await self.login.aclose()
        await self.graphs.aclose()
        self.apps.close()


def build_signin(
    settings: Settings,
    *,
    engine: Engine,
    resolver: Resolver | None,
    audit: AuditLog,
    clock: Clock,
    listener: LoginListener | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> SignIn:
    """Raises ConfigError (naming PIM_TOKEN_KEY, or the AZURE_* ids) when misconfigured.
    `engine` is the store's (`SqlStore.engine`), migrated to include `user_tokens`.
    `resolver` may be set later (`login.resolver`): the bot's resolver reads Graph
    through the sign-ins built here."""
    cipher = cipher_from_settings(settings)
    tokens = UserTokens(SqlUserTokens(engine), cipher, clock)
    flows = PendingFlows(SqlPendingLogins(engine), cipher)
    apps = PublicApps.from_settings(settings)
    graphs = DelegatedGraphs(settings, apps, tokens, transport=transport)
    login = LoginService(
        apps, tokens, resolver, audit, clock, listener, graph_with=graphs.with_token, flows=flows
    )
    approvals = PimApprovals(graphs, tokens)
    return SignIn(login, graphs, approvals, tokens, apps, SqlDeferredWork(engine))
