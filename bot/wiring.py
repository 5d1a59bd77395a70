"""The composition root: build the Slack-free services from settings, with overrides."""

from __future__ import annotations

from dataclasses import dataclass

from bot.catalog import PolicyCache
from bot.clock import Clock, SystemClock
from bot.domain.roles import RoleCatalog
from bot.identity import IdentityResolver
from bot.ports import Notifier, PimGraph, SlackDirectory, Store
from bot.service import PimService
from bot.settings import PolicyFile, Settings


@dataclass
class Services:
    """Everything the Slack layer and the CLI need, built once per process."""

    settings: Settings
    config: PolicyFile
    clock: Clock
    graph: PimGraph
    store: Store
    catalog: RoleCatalog
    service: PimService

    async def aclose(self) -> None:
        await self.graph.aclose()


def build_services(
    settings: Settings,
    *,
    directory: SlackDirectory,
    notifier: Notifier,
    graph: PimGraph | None = None,
    store: Store | None = None,
    clock: Clock | None = None,
    config: PolicyFile | None = None,
) -> Services:
    """Wire the services; anything passed in replaces the default adapter."""
    config = config or settings.policy()
    clock = clock or SystemClock()
    if graph is None:
        from bot.graph import build_graph

        graph = build_graph(settings)
    if store is None:
        from bot.store import SqlStore

        store = SqlStore.from_url(settings.pim_database_url)
    catalog = RoleCatalog(config)
    policies = PolicyCache(graph, catalog, config, clock)
    identity = IdentityResolver(graph, store, directory, config, clock)
    service = PimService(
        graph=graph,
        store=store,
        identity=identity,
        catalog=catalog,
        policies=policies,
        notifier=notifier,
        config=config,
        clock=clock,
    )
    return Services(settings, config, clock, graph, store, catalog, service)
