"""SlackNotifier and SlackUserDirectory against the fake Slack Web API over real HTTP."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.audit import AuditEvent, AuditKind
from bot.domain.models import Ticket
from bot.domain.people import slack as slack_user
from bot.domain.requests import RequestState
from bot.errors import UserNotMapped
from bot.service.deps import AuditTrail
from bot.settings import ChannelsConfig, PolicyFile
from bot.store import SqlStore
from handlers.notify import SlackNotifier
from handlers.outbox import web_client
from handlers.people import SlackUserDirectory
from tests.support.cast import ALINE
from tests.support.clock import FakeClock
from tests.support.outbox import notifier_for
from tests.support.records import activation_record
from tests.support.slack import Call, FakeSlack

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
    slack: FakeSlack,
    audit: str | None = "C_AUDIT",
    store: SqlStore | None = None,
    profiles: SlackUserDirectory | None = None,
) -> SlackNotifier:
    config = PolicyFile(channels=ChannelsConfig(audit=audit, approvals="C_APPROVALS"))
    store = store or SqlStore.from_url("sqlite://")
    return notifier_for(_client(slack), config, store, FakeClock(NOW), profiles=profiles)[0]


async def _arrived(slack: FakeSlack, method: str, count: int) -> list[Call]:
    """The fake's calls once `count` arrived (sent in the background), without blocking
    the loop that sends them."""
    for _ in range(500):
        if len(slack.calls(method)) >= count:
            break
        await asyncio.sleep(0.01)
    return slack.calls(method)


async def test_dm_opens_the_conversation_once_then_posts(slack: FakeSlack) -> None:
    notifier = _notifier(slack)

    await notifier.send_dm(slack_user("U_ALINE"), "one")
    await notifier.send_dm(slack_user("U_ALINE"), "two")

    assert len(slack.calls("conversations.open")) == 1
    assert [c.body["text"] for c in slack.calls("chat.postMessage")] == ["one", "two"]


def _trail(slack: FakeSlack, audit: str | None = "C_AUDIT") -> tuple[AuditTrail, SqlStore]:
    store = SqlStore.from_url("sqlite://")
    return AuditTrail(store, _notifier(slack, audit, store)), store


async def test_audit_goes_to_the_audit_channel(slack: FakeSlack) -> None:
    trail, _ = _trail(slack)
    await trail.record(EVENT)

    (posted,) = await _arrived(slack, "chat.postMessage", 1)
    assert posted.body["channel"] == "C_AUDIT" and "activated" in posted.body["text"]


async def test_no_audit_channel_means_no_post(slack: FakeSlack) -> None:
    trail, store = _trail(slack, audit=None)
    await trail.record(EVENT)

    assert slack.calls() == [] and len(store.audit_events()) == 1


async def test_audit_rate_limited_is_kept_not_raised_and_logged_with_the_reason(
    slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    slack.rate_limit("chat.postMessage")
    trail, _ = _trail(slack)

    with caplog.at_level(logging.INFO, logger="handlers.outbox"):
        await trail.record(EVENT)
        for _ in range(100):
            if any("ratelimited" in r.getMessage() for r in caplog.records):
                break
            await asyncio.sleep(0.02)

    assert any("ratelimited" in r.getMessage() for r in caplog.records)


async def test_an_audit_row_and_its_line_are_kept_together_or_not_at_all(
    slack: FakeSlack,
) -> None:
    """One transaction: when the line cannot be queued, the row is not kept either (the
    request being audited fails, rather than its trail missing from the channel); when
    it is kept, its line is in the outbox before anyone sends it, so a replica killed
    right after the commit loses nothing: the next courier on the database sends it."""
    store = SqlStore.from_url("sqlite://")
    notifier = _notifier(slack, store=store)
    lines = notifier.audit_lines([EVENT])
    broken = [replace(lines[0], body={"unserialisable": object()})]
    with pytest.raises(TypeError):
        store.append_audit(EVENT, broken)
    assert store.audit_events() == []

    store.append_audit(EVENT, lines)  # and the replica dies before any nudge
    assert len(store.audit_events()) == 1 and slack.calls() == []
    _, courier = notifier_for(_client(slack), PolicyFile(), store, FakeClock(NOW))
    await courier.start()  # the next process on this database
    try:
        (posted,) = await _arrived(slack, "chat.postMessage", 1)
    finally:
        await courier.aclose()
    assert posted.body["channel"] == "C_AUDIT" and "activated" in posted.body["text"]


async def test_reminder_names_the_zone_seen_at_activation_with_request_id_buttons(
    slack: FakeSlack,
) -> None:
    """The directory the service resolved the requester with (at activation) is the one
    the notifier reads the time zone from: the reminder itself calls no users.info."""
    directory = SlackUserDirectory(_client(slack))
    await directory.profile(RECORD.requester)  # as resolving the requester did
    await _notifier(slack, profiles=directory).remind(RECORD, NOW + timedelta(minutes=45))

    (dm,) = slack.calls("chat.postMessage")
    assert "ends in 15 minutes" in dm.body["text"] and "CET" in dm.body["text"]
    assert len(slack.calls("users.info")) == 1  # the activation's, not the reminder's
    values = {
        e["value"] for b in dm.body["blocks"] if b["type"] == "actions" for e in b["elements"]
    }
    assert RECORD.end is not None
    assert values == {"R-7KQ2M9XD", f"R-7KQ2M9XD PT1H {RECORD.end.isoformat()}"}


async def test_a_reminder_for_someone_not_looked_up_is_a_slack_date_falling_back_to_utc(
    slack: FakeSlack,
) -> None:
    """No users.info for a reminder: Slack renders `<!date^…>` in the reader's own zone
    (https://api.slack.com/reference/surfaces/formatting#date-formatting); only the
    fallback, for notifications, names UTC."""
    await _notifier(slack).remind(RECORD, NOW + timedelta(minutes=45))

    (dm,) = slack.calls("chat.postMessage")
    assert slack.calls("users.info") == []
    assert "<!date^" in dm.body["text"] and "UTC>" in dm.body["text"]


async def test_a_burst_of_reminders_is_queued_once_per_key(slack: FakeSlack) -> None:
    """A batch claimed again after a crash queues its DMs again: each key goes out once."""
    notifier = _notifier(slack)
    people = [slack_user(f"U_BURST{n}") for n in range(3)]
    keyed = [
        (RECORD.with_changes(id=f"R-BURST{n}", requester=who), f"reminder R-BURST{n}")
        for n, who in enumerate(people)
    ]
    await notifier.remind_many(keyed, NOW + timedelta(minutes=45))
    await notifier.remind_many(keyed, NOW + timedelta(minutes=45))

    assert len(await _arrived(slack, "chat.postMessage", 3)) == 3
    await asyncio.sleep(0.2)  # anything queued twice would be on its way by now
    sent = slack.calls("chat.postMessage")
    assert sorted(c.body["channel"] for c in sent) == sorted(f"D_{p.chat_user_id}" for p in people)


async def test_many_audit_lines_are_a_line_each_in_few_posts(slack: FakeSlack) -> None:
    """A burst's audit lines: one context block (line) each, 49 to a post (Slack's most
    blocks in a message, less one for the sandbox note), so the channel's one post a
    second is not the bottleneck."""
    events = [
        AuditEvent(NOW, AuditKind.REMINDED, None, subject=slack_user(f"U_A{n}")) for n in range(120)
    ]
    store = SqlStore.from_url("sqlite://")
    notifier = _notifier(slack, store=store)
    # As a batch of reminders is marked sent: the rows and their lines in one transaction.
    store.mark_reminders_sent([], NOW, audit=events, lines=notifier.audit_lines(events))
    assert len(store.audit_events()) == 120
    await notifier.send_audit_lines()

    posts = await _arrived(slack, "chat.postMessage", 3)
    assert [len(p.body["blocks"]) for p in posts] == [49, 49, 22]
    lines = [b for p in posts for b in p.body["blocks"]]
    assert all(b["type"] == "context" and "reminded" in b["elements"][0]["text"] for b in lines)
    assert {p.body["channel"] for p in posts} == {"C_AUDIT"}


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
