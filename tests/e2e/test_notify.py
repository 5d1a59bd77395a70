"""SlackNotifier and SlackUserDirectory against the fake Slack Web API over real HTTP."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.audit import AuditEvent, AuditKind
from bot.domain.models import Ticket
from bot.domain.people import slack as slack_user
from bot.domain.requests import RequestState
from bot.errors import UserNotMapped
from bot.settings import ChannelsConfig, PolicyFile
from bot.store import SqlStore
from handlers.notify import SlackNotifier
from handlers.outbox import web_client
from handlers.people import SlackUserDirectory
from tests.support.cast import ALINE
from tests.support.clock import FakeClock
from tests.support.outbox import notifier_for
from tests.support.records import activation_record
from tests.support.slack import FakeSlack

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
RECORD = activation_record(
    principal_id="p", role_id="r", duration=timedelta(hours=1), justification="rotate keys"
).with_changes(ticket=Ticket("CONTOSO:Security-012345"))
EVENT = AuditEvent(at=NOW, kind=AuditKind.ACTIVATED, person=slack_user("U_ALINE"))


@pytest.fixture(scope="module")
def server() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        yield slack


@pytest.fixture
def slack(server: FakeSlack) -> FakeSlack:
    server.reset()
    return server


def _client(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-notify", base_url=slack.api_url)


def _notifier(
    slack: FakeSlack, audit: str | None = "C_AUDIT", store: SqlStore | None = None
) -> SlackNotifier:
    config = PolicyFile(channels=ChannelsConfig(audit=audit, approvals="C_APPROVALS"))
    store = store or SqlStore.from_url("sqlite://")
    return notifier_for(_client(slack), config, store, FakeClock(NOW))[0]


async def test_dm_opens_the_conversation_once_then_posts(slack: FakeSlack) -> None:
    notifier = _notifier(slack)

    await notifier.send_dm(slack_user("U_ALINE"), "one")
    await notifier.send_dm(slack_user("U_ALINE"), "two")

    assert len(slack.calls("conversations.open")) == 1
    assert [c.body["text"] for c in slack.calls("chat.postMessage")] == ["one", "two"]


async def test_audit_goes_to_the_audit_channel(slack: FakeSlack) -> None:
    await _notifier(slack).post_audit(EVENT)

    (posted,) = slack.calls("chat.postMessage")
    assert posted.body["channel"] == "C_AUDIT" and "activated" in posted.body["text"]


async def test_no_audit_channel_means_no_post(slack: FakeSlack) -> None:
    await _notifier(slack, audit=None).post_audit(EVENT)

    assert slack.calls() == []


async def test_audit_rate_limited_is_kept_not_raised_and_logged_with_the_reason(
    slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    slack.rate_limit("chat.postMessage")

    with caplog.at_level(logging.INFO, logger="handlers.outbox"):
        await _notifier(slack).post_audit(EVENT)

    assert any("ratelimited" in r.getMessage() for r in caplog.records)


async def test_reminder_is_in_the_users_time_zone_with_request_id_buttons(
    slack: FakeSlack,
) -> None:
    await _notifier(slack).remind(RECORD, NOW + timedelta(minutes=45))

    (dm,) = slack.calls("chat.postMessage")
    assert "ends in 15 minutes" in dm.body["text"] and "CET" in dm.body["text"]
    values = {
        e["value"] for b in dm.body["blocks"] if b["type"] == "actions" for e in b["elements"]
    }
    assert RECORD.end is not None
    assert values == {"R-7KQ2M9XD", f"R-7KQ2M9XD PT1H {RECORD.end.isoformat()}"}


async def test_approval_card_is_posted_and_redrawn_without_buttons(slack: FakeSlack) -> None:
    store = SqlStore.from_url("sqlite://")
    notifier = _notifier(slack, store=store)
    pending = RECORD.with_changes(state=RequestState.PENDING_APPROVAL)
    store.add_request(pending)

    card = await notifier.post_approval_card(pending, NOW + timedelta(hours=24))
    assert card is not None and card.startswith("C_APPROVALS ")
    decided = pending.with_changes(
        state=RequestState.DENIED,
        decided_by=slack_user("U_ADMIN"),
        decided_at=NOW,
        decision_reason="no",
        card=card,  # opaque to the service; the notifier finds its message by it
    )
    await notifier.update_approval_card(decided)

    (update,) = slack.calls("chat.update")
    assert update.body["channel"] == "C_APPROVALS" and update.body["ts"] == card.split(" ")[1]
    assert store.get_request(pending.id).card == card  # type: ignore[union-attr]
    assert all(b["type"] != "actions" for b in update.body["blocks"])


async def test_directory_reads_email_and_tz_and_caches_them(slack: FakeSlack) -> None:
    directory = SlackUserDirectory(_client(slack))

    first = await directory.profile(slack_user("U_ALINE"))
    again = await directory.profile(slack_user("U_ALINE"))

    assert first == again
    assert first.email == ALINE.upn and first.tz == "Europe/Paris"
    assert len(slack.calls("users.info")) == 1


async def test_directory_profile_without_email(slack: FakeSlack) -> None:
    profile = await SlackUserDirectory(_client(slack)).profile(slack_user("U_NOMAIL"))

    assert profile.email is None


@pytest.mark.slow
async def test_directory_unknown_user_is_not_mapped(slack: FakeSlack) -> None:
    with pytest.raises(UserNotMapped):
        await SlackUserDirectory(_client(slack)).profile(slack_user("U_GHOST"))


@pytest.mark.slow  # the SDK waits Retry-After (0 here) plus up to a second of jitter
async def test_the_bots_client_waits_out_a_429_itself(slack: FakeSlack) -> None:
    """slack_sdk's AsyncRateLimitErrorRetryHandler, installed by `web_client`, sleeps for
    `Retry-After` and tries once more; the plain client would raise `ratelimited`."""
    slack.retry_after = "0"
    slack.rate_limit("users.info", times=1)

    profile = await SlackUserDirectory(web_client("xoxb-notify", slack.api_url)).profile(
        slack_user("U_ALINE")
    )

    assert profile.email == ALINE.upn
    assert len(slack.calls("users.info")) == 2
