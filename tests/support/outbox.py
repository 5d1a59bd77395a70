"""The Slack notifier as production wires it: its messages go through the outbox courier
(handlers/outbox.py) kept in `store`'s database."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import Clock, SystemClock
from bot.settings import PolicyFile
from bot.store import SqlStore
from bot.store.outbox import SqlOutbox
from handlers.notify import SlackNotifier
from handlers.outbox import Courier, Pace
from handlers.people import SlackUserDirectory


def courier_for(
    client: AsyncWebClient,
    config: PolicyFile,
    store: SqlStore,
    clock: Clock | None = None,
    pace: Pace | None = None,
) -> Courier:
    clock = clock or SystemClock()
    return Courier(client, SqlOutbox(store.engine, clock), store, config, clock, pace=pace)


def notifier_for(
    client: AsyncWebClient,
    config: PolicyFile,
    store: SqlStore,
    clock: Clock | None = None,
    pace: Pace | None = None,
    profiles: SlackUserDirectory | None = None,
) -> tuple[SlackNotifier, Courier]:
    """`profiles`: the directory the services resolve people with, shared as production
    shares it (bot/cli/run.py)."""
    courier = courier_for(client, config, store, clock, pace)
    return SlackNotifier(client, config, courier, profiles), courier
