"""What the App Home is told: what waits for an approver (the approval service's own
check), and a refresh for each viewer a change concerns, none for anyone else."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.command_types import Activate, Approve, Deactivate
from bot.domain.people import slack
from bot.service.outcomes import Overview
from bot.wiring import Services
from tests.support.cast import TICKET, WHY
from tests.support.clock import FakeClock
from tests.support.slack_ports import RecordingNotifier

pytestmark = pytest.mark.slow  # the whole service on the sandbox tenant over HTTPS

ALINE, ADMIN, ALEX = slack("U_ALINE"), slack("U_ADMIN"), slack("U_ALEX")


async def _ask(services: Services) -> str:
    outcome = await services.pimbot.handle(
        ALINE, Activate("global-admin", timedelta(hours=1), TICKET, WHY)
    )
    assert outcome.record is not None
    return outcome.record.id


def _homes(notifier: RecordingNotifier, who: object) -> list[Overview]:
    shown = []
    for person, fact in notifier.told("home_changed"):
        overview, _ = fact  # type: ignore[misc]
        if person == who and overview is not None:
            shown.append(overview)
    return shown


async def test_what_waits_is_exactly_what_the_approver_may_decide(
    services: Services, clock: FakeClock
) -> None:
    request_id = await _ask(services)

    admin = await services.pimbot.overview(ADMIN)
    aline = await services.pimbot.overview(ALINE)

    assert [r.id for r in admin.waiting] == [request_id]
    assert aline.waiting == ()  # her own request: someone else has to decide it
    clock.advance(services.config.approval_timeout.total_seconds())
    assert (await services.pimbot.overview(ADMIN)).waiting == ()  # expired: not offered


async def test_viewers_a_change_concerns_are_refreshed_and_no_one_else(
    services: Services, notifier: RecordingNotifier, clock: FakeClock
) -> None:
    for viewer in (ALINE, ADMIN, ALEX):
        await services.pimbot.overview(viewer)  # each has their Home open

    request_id = await _ask(services)
    await services.pimbot.homes.settled()

    assert [r.id for r in _homes(notifier, ADMIN)[-1].waiting] == [request_id]
    assert [r.id for r in _homes(notifier, ALINE)[-1].pending] == [request_id]
    assert _homes(notifier, ALEX) == []  # neither his request nor his to decide

    await services.pimbot.handle(ADMIN, Approve(request_id))
    await services.pimbot.homes.settled()
    assert _homes(notifier, ADMIN)[-1].waiting == ()  # approved by him: not his to decide
    assert _homes(notifier, ALINE)[-1].active == []  # one approval of the two it needs
    await services.pimbot.handle(slack("U_MEGAN"), Approve(request_id))
    await services.pimbot.homes.settled()

    assert _homes(notifier, ADMIN)[-1].waiting == ()
    assert [a.role.display_name for a in _homes(notifier, ALINE)[-1].active] == [
        "Global Administrator"
    ]
    assert _homes(notifier, ALEX) == []

    clock.advance(timedelta(minutes=5))  # Entra refuses a deactivation within 5 minutes
    await services.pimbot.handle(ALINE, Deactivate("global-admin"))
    await services.pimbot.homes.settled()
    assert _homes(notifier, ALINE)[-1].active == []


async def test_nobody_is_refreshed_whose_home_was_never_shown(
    services: Services, notifier: RecordingNotifier
) -> None:
    await services.pimbot.handle(ADMIN, Approve(await _ask(services)))
    await services.pimbot.homes.settled()

    assert notifier.told("home_changed") == []
