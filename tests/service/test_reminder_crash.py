"""A crash between queueing a batch's reminder DMs and marking the batch sent: the claim
runs out, the next run claims the batch again, and each DM still goes out exactly once
(its outbox key), audited once. Before, a batch was marked sent at claim time: a crash
there lost up to a batch of reminders."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.audit import AuditKind
from bot.domain.reminders import ReminderKind
from bot.graph import RetryPolicy, build_graph
from bot.service.reminders import CLAIM
from bot.settings import Settings
from bot.simulators.sandbox import SandboxTenant
from bot.store import SqlStore
from bot.wiring import ManualTrigger, Services, build_services
from tests.support.clock import FakeClock
from tests.support.held import held_elsewhere
from tests.support.outbox import notifier_for
from tests.support.settings import BOT_TOKEN
from tests.support.slack import FakeSlack
from tests.support.slack_ports import FakeDirectory

pytestmark = pytest.mark.slow  # the sandbox over HTTPS and the fake Slack
PEOPLE = 3


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def _wire(settings: Settings, clock: FakeClock, slack: FakeSlack) -> Services:
    """The services with the Slack notifier and its outbox courier, as production."""
    store = SqlStore.from_url(settings.pim_database_url, clock=clock)
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url)
    notifier, courier = notifier_for(client, settings.policy(), store, clock)
    return build_services(
        settings,
        directory=FakeDirectory(),
        notifier=notifier,
        clock=clock,
        graph=build_graph(settings, retry=RetryPolicy.fast()),
        store=store,
        scheduler=ManualTrigger(),
        background=(courier,),
    )


async def _dms(slack: FakeSlack, count: int) -> list[Any]:
    """The reminder DMs the fake Slack accepted, once `count` arrived (or ~5 s passed)."""
    for _ in range(500):
        dms = [c for c in slack.calls("chat.postMessage") if c.body["channel"].startswith("D_")]
        if len(dms) >= count:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)  # a DM queued twice would be on its way by now
    return [c for c in slack.calls("chat.postMessage") if c.body["channel"].startswith("D_")]


async def test_a_crash_before_the_batch_is_marked_sent_loses_nothing_and_doubles_nothing(
    settings: Settings,
    tenant: SandboxTenant,
    clock: FakeClock,
    slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = _wire(settings, clock, slack)
    try:
        held = held_elsewhere(
            services, tenant, PEOPLE, record_id="R-CRASH{}".format, user_id="U_CRASH{}".format
        )
        ids = [record.id for record in held]
        clock.advance(timedelta(minutes=46))  # the 15-minute reminders are due

        def died(*args: object, **kwargs: object) -> None:
            raise OSError("the process died between queueing and marking sent")

        monkeypatch.setattr(services.store, "mark_reminders_sent", died)
        with pytest.raises(OSError):
            await services.reminders.run_due()
        monkeypatch.undo()

        assert await services.reminders.run_due() == 0  # still claimed by the "dead" run
        clock.advance(CLAIM)
        assert await services.reminders.run_due() == PEOPLE  # claimed again, queued again
        assert await services.reminders.run_due() == 0  # sent is sent

        dms = await _dms(slack, PEOPLE)
        assert sorted(c.body["channel"] for c in dms) == [f"D_U_CRASH{n}" for n in range(PEOPLE)]
        audited = [e for e in services.store.audit_events() if e.kind is AuditKind.REMINDED]
        assert sorted(e.request_id or "" for e in audited) == ids  # once each
        lead = [r for r in services.store.list_reminders() if r.kind is ReminderKind.LEAD]
        assert all(r.sent_at is not None for r in lead)
    finally:
        await services.aclose()
