"""Four eyes in the service: a role's own approvals channel is enough for approval."""

from __future__ import annotations

from bot.service.outcomes import OutcomeKind
from bot.settings import ChannelsConfig, Settings
from tests.support.clock import FakeClock
from tests.support.services import request_global_admin, wire
from tests.support.slack_ports import FakeDirectory, RecordingNotifier


async def test_a_roles_approvals_channel_is_enough_without_channels_approvals(
    settings: Settings, clock: FakeClock, directory: FakeDirectory, notifier: RecordingNotifier
) -> None:
    config = settings.policy()
    roles = dict(config.roles)
    roles["global-admin"] = roles["global-admin"].model_copy(
        update={"approvals_channel": "C_GLOBAL_ADMIN_APPROVALS"}
    )
    only_the_role = {"roles": roles, "channels": ChannelsConfig()}
    services = wire(
        settings, clock, directory, notifier, config=config.model_copy(update=only_the_role)
    )
    try:
        pending = await request_global_admin(services)
    finally:
        await services.aclose()

    assert pending.kind is OutcomeKind.PENDING_APPROVAL
    assert pending.record is not None and pending.record.id in notifier.cards
