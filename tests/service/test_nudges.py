"""Whom a re-ping and an escalation mention when pimbot.yml names Entra users and groups:
the chat users `users:` maps them to (nobody else can be mentioned), never the requester;
and a request decided or left without a card pings nobody. Against the sandbox tenant
(group members read from Graph), the bot's clock moved."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.domain.command_types import Approve
from bot.domain.nudges import Audience, PingKind
from bot.domain.people import slack
from bot.service.ports import Nudge
from bot.settings import PolicyFile, Settings
from bot.wiring import Services
from tests.support.cast import ALINE, DIEGO, MEGAN, PATTI, PIM_APPROVERS_GROUP, SECOPS_GROUP
from tests.support.clock import FakeClock
from tests.support.services import request_global_admin, wire
from tests.support.settings import repo_policy
from tests.support.slack_ports import FakeDirectory, RecordingNotifier

pytestmark = pytest.mark.slow  # the sandbox tenant over HTTPS per test

QUARTER = timedelta(minutes=15, seconds=1)


def entra_policy() -> PolicyFile:
    policy = repo_policy()
    policy["users"] = {"U_MEGAN": MEGAN.upn, "slack:U_PATTI": PATTI.id, "U_ALINE": ALINE.upn}
    policy["users"]["U_DIEGO"] = DIEGO.upn
    policy["roles"]["global-admin"] |= {
        "approvers": {"entra_groups": [PIM_APPROVERS_GROUP], "entra_users": [PATTI.upn]},
        "escalate_after": "30m",
        "escalate_to": {"entra_groups": [SECOPS_GROUP]},  # Aline (the requester), Diego, Lee
        "approvals_required": 1,  # one decides here; four eyes: test_nudges_http.py
    }
    return PolicyFile.model_validate(policy)


@pytest.fixture
async def nagging(
    settings: Settings, clock: FakeClock, directory: FakeDirectory, notifier: RecordingNotifier
) -> AsyncIterator[Services]:
    built = wire(settings, clock, directory, notifier, config=entra_policy())
    yield built
    await built.aclose()


def pings(notifier: RecordingNotifier) -> list[tuple[str, Audience, Nudge]]:
    return [fact for _, fact in notifier.told("ping_approvers")]  # type: ignore[misc]


async def test_entra_approvers_are_mentioned_as_the_chat_users_they_map_to(
    nagging: Services, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    record = (await request_global_admin(nagging)).record
    assert record is not None

    clock.advance(QUARTER)
    await nagging.sweep()
    clock.advance(timedelta(minutes=15))
    await nagging.sweep()

    (first, escalation) = pings(notifier)
    assert first[0] == record.id and first[2].kind is PingKind.REMIND
    # PIM Approvers (the admin, unmapped; Megan) and Patti; Entra's own approver is the
    # admin, who is not in `users:` either.
    assert set(first[1].people) == {slack("U_MEGAN"), slack("U_PATTI")}
    assert escalation[2].kind is PingKind.ESCALATE and escalation[2].reminded == 1
    assert escalation[1].people == (slack("U_DIEGO"),)  # Aline asked: never pinged


async def test_a_decided_request_pings_nobody(
    nagging: Services, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    record = (await request_global_admin(nagging)).record
    assert record is not None
    await nagging.pimbot.handle(slack("U_ADMIN"), Approve(record.id))

    clock.advance(timedelta(hours=3))
    await nagging.sweep()

    assert pings(notifier) == []
