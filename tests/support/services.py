"""The bot's services wired as in production, for the service-level tests: the sandbox
tenant over real HTTPS, a real SQLite store, a manual scheduler, and the in-memory Slack
ports (tests/support/slack_ports.py). Bot and tenant share one clock.

The fixtures that build these (`services`, `settings`, `sandbox`, ...) are in
tests/conftest.py; `wire` is for a test that needs a second process's worth of services
on the same database (a restart) or another policy."""

from __future__ import annotations

from datetime import timedelta

from bot.domain.command_types import Activate
from bot.graph import RetryPolicy, build_graph
from bot.service.outcomes import Outcome, OutcomeKind
from bot.settings import PolicyFile, Settings
from bot.store import SqlStore
from bot.wiring import ManualTrigger, Services, build_services
from tests.support.cast import ALINE, TICKET, WHY
from tests.support.clock import FakeClock
from tests.support.slack_ports import FakeDirectory, RecordingNotifier


def wire(
    settings: Settings,
    clock: FakeClock,
    directory: FakeDirectory,
    notifier: RecordingNotifier,
    *,
    config: PolicyFile | None = None,
) -> Services:
    return build_services(
        settings,
        config=config,
        directory=directory,
        notifier=notifier,
        clock=clock,
        graph=build_graph(settings, retry=RetryPolicy.fast()),
        store=SqlStore.from_url(settings.pim_database_url, clock=clock),
        scheduler=ManualTrigger(),
    )


async def restart(
    settings: Settings, clock: FakeClock, directory: FakeDirectory, notifier: RecordingNotifier
) -> Services:
    """A new process on the same database, started (its start-up recovery has run)."""
    fresh = wire(settings, clock, directory, notifier)
    await fresh.start(sweep_seconds=3600)
    return fresh


async def request_global_admin(services: Services) -> Outcome:
    """Aline asks for Global Administrator (approval required); the pending outcome."""
    outcome = await services.pimbot.handle(
        ALINE.key, Activate("global-admin", timedelta(hours=1), TICKET, WHY)
    )
    assert outcome.kind is OutcomeKind.PENDING_APPROVAL
    assert outcome.record is not None
    return outcome
