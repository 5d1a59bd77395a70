"""Who may use the bot: deactivated accounts, bots, Slack Connect partners, guests (unless
pimbot.yml allows them) and people without a confirmed email are refused, naming why,
whatever they ask for, and before anything reaches Graph."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

import pytest

from bot.domain.command_types import Activate, Approve, Command, Deny, ListRoles, Login
from bot.domain.people import slack
from bot.domain.requests import RequestState
from bot.errors import NotAllowed
from bot.service.outcomes import Overview
from bot.settings import AccessConfig, PolicyFile, Settings
from bot.simulators.sandbox import SandboxTenant
from bot.wiring import Services
from tests.support.cast import (
    ADMIN,
    ALINE,
    GLOBAL_ADMIN,
    ISAIAH,
    KAI,
    NESTOR,
    NOMAIL,
    TICKET,
    WHY,
)
from tests.support.clock import FakeClock
from tests.support.services import request_global_admin, wire
from tests.support.slack_ports import PROFILES, FakeDirectory, RecordingNotifier

pytestmark = pytest.mark.slow  # its tests take over ~0.5 s each (see pyproject.toml)

ACTIVATE = Activate("user-admin", timedelta(hours=1), TICKET, WHY)
REFUSED = [
    (ISAIAH.slack_id, "guest", "Guest accounts can't use pimbot"),
    (NESTOR.slack_id, "deactivated", "Your Slack account is deactivated"),
    (KAI.slack_id, "external", "from another organisation (Slack Connect)"),
    (NOMAIL.slack_id, "no_email", "I can't see a verified email on your Slack profile"),
]


def writes(tenant: SandboxTenant) -> int:
    """Schedule requests the tenant has received (refusals included)."""
    return len(tenant.requests)


@pytest.mark.parametrize(("user", "reason", "says"), REFUSED)
@pytest.mark.parametrize("command", [ListRoles(), ACTIVATE, Login()])
async def test_who_may_not_use_the_bot_is_refused_naming_why(
    services: Services, tenant: SandboxTenant, user: str, reason: str, says: str, command: Command
) -> None:
    with pytest.raises(NotAllowed) as err:
        await services.pimbot.handle(slack(user), command)

    assert err.value.reason == reason
    assert says in err.value.user_message
    assert writes(tenant) == 0


@pytest.mark.parametrize(("user", "reason", "says"), REFUSED)
async def test_the_app_home_overview_is_refused_too(
    services: Services, user: str, reason: str, says: str
) -> None:
    with pytest.raises(NotAllowed) as err:
        await services.pimbot.overview(slack(user))
    assert err.value.reason == reason


async def test_a_refusal_is_logged_with_its_reason(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="bot.service.identity"), pytest.raises(NotAllowed):
        await services.pimbot.handle(KAI.key, ListRoles())

    assert caplog.messages == [f"slack:{KAI.slack_id} may not use the bot: external"]


def _wired(
    settings: Settings,
    clock: FakeClock,
    directory: FakeDirectory,
    config: PolicyFile | None = None,
) -> Services:
    return wire(settings, clock, directory, RecordingNotifier(), config=config)


async def test_a_bot_and_an_unconfirmed_email_are_refused(
    settings: Settings, clock: FakeClock
) -> None:
    directory = FakeDirectory(
        profiles={
            "U_ALINE": replace(PROFILES["U_ALINE"], email_confirmed=False),
            "U_ALEX": replace(PROFILES["U_ALEX"], kind="bot"),
        }
    )
    services = _wired(settings, clock, directory)
    try:
        with pytest.raises(NotAllowed) as unconfirmed:
            await services.pimbot.handle(ALINE.key, ListRoles())
        with pytest.raises(NotAllowed) as bot:
            await services.pimbot.handle(slack("U_ALEX"), ListRoles())
    finally:
        await services.aclose()

    assert unconfirmed.value.reason == "email_unconfirmed"
    assert "email address isn't confirmed" in unconfirmed.value.user_message
    assert bot.value.reason == "bot"
    assert "Bots and apps can't use pimbot" in bot.value.user_message


async def test_an_unconfirmed_email_does_not_matter_when_pimbot_yml_maps_the_person(
    settings: Settings, clock: FakeClock
) -> None:
    directory = FakeDirectory(
        profiles={"U_ALINE": replace(PROFILES["U_ALINE"], email_confirmed=False)}
    )
    config = settings.policy().model_copy(update={"users": {"U_ALINE": ALINE.upn}})
    services = _wired(settings, clock, directory, config)
    try:
        overview = await services.pimbot.handle(ALINE.key, ListRoles())
    finally:
        await services.aclose()

    assert isinstance(overview, Overview)
    assert overview.eligible


async def test_guests_may_use_the_bot_when_pimbot_yml_allows_them(
    settings: Settings, clock: FakeClock, directory: FakeDirectory
) -> None:
    config = settings.policy().model_copy(update={"access": AccessConfig(guests="allow")})
    services = _wired(settings, clock, directory, config)
    try:
        overview = await services.pimbot.handle(ISAIAH.key, ListRoles())
        with pytest.raises(NotAllowed) as deactivated:  # the setting lets guests only in
            await services.pimbot.handle(NESTOR.key, ListRoles())
    finally:
        await services.aclose()

    assert isinstance(overview, Overview)
    assert deactivated.value.reason == "deactivated"


@pytest.mark.parametrize(
    ("changes", "reason"), [({"kind": "guest"}, "guest"), ({"active": False}, "deactivated")]
)
@pytest.mark.parametrize("decide", [Approve, lambda r: Deny(r, "not this week")])
async def test_an_approver_who_became_a_guest_or_was_deactivated_cannot_decide(
    settings: Settings,
    clock: FakeClock,
    tenant: SandboxTenant,
    changes: dict[str, object],
    reason: str,
    decide: object,
) -> None:
    directory = FakeDirectory(profiles={"U_ADMIN": replace(PROFILES["U_ADMIN"], **changes)})  # type: ignore[arg-type]
    services = _wired(settings, clock, directory)
    try:
        pending = await request_global_admin(services)
        assert pending.record is not None
        with pytest.raises(NotAllowed) as err:
            await services.pimbot.handle(ADMIN.key, decide(pending.record.id))  # type: ignore[operator]
        state = services.store.get_request(pending.record.id)
    finally:
        await services.aclose()

    assert err.value.reason == reason
    assert state is not None and state.state is RequestState.PENDING_APPROVAL
    assert tenant.live_assignment(ALINE.id or "", GLOBAL_ADMIN) is None
