"""Slack adapter for the Notifier port: DMs, the approvals and audit channels, the App Home."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.approvals import Asked, Tally
from bot.domain.audit import AuditEvent
from bot.domain.board import Board
from bot.domain.breakglass import BreakGlassRecord
from bot.domain.drift import OutsideActivity, Readiness
from bot.domain.models import ApproverRef
from bot.domain.nudges import Audience
from bot.domain.people import PersonKey
from bot.domain.requests import ActivationRecord
from bot.domain.roles import RoleCatalog
from bot.service import policies
from bot.service.outbox import Letter
from bot.service.outcomes import Dropped, Overview, Replayed
from bot.service.ports import Nudge
from bot.service.signins import DeviceCodePrompt, LinkState, LoginOutcome
from bot.settings import PolicyFile
from handlers import blocks
from handlers.blocks import breakglass, cards, drift, nudges, signin
from handlers.blocks import home as home_tab
from handlers.blocks.board import board_message
from handlers.outbox import Courier
from handlers.people import SlackUserDirectory

log = logging.getLogger(__name__)


class SlackNotifier:
    """Implements bot.service.ports.Notifier over the Web API: every fact the service
    reports becomes a message built in handlers/blocks, put in the outbox (`courier`) so
    it arrives even when Slack is slow, limiting or down for a while."""

    def __init__(
        self,
        client: AsyncWebClient,
        config: PolicyFile,
        courier: Courier,
        profiles: SlackUserDirectory | None = None,
    ) -> None:
        """`profiles`: the directory the service resolves people with, shared so that a
        reminder finds the time zone seen when its activation was made (no users.info)."""
        self._client, self._config, self._courier = client, config, courier
        self._catalog = RoleCatalog(config)
        self._profiles = profiles or SlackUserDirectory(client)  # the tz for DM times

    async def _tz(self, person: PersonKey) -> str | None:
        try:
            return (await self._profiles.profile(person)).tz
        except Exception:  # noqa: BLE001 - a reminder in UTC beats no reminder
            log.warning("no time zone for %s; showing UTC", person, exc_info=True)
            return None

    async def send_dm(
        self, person: PersonKey, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> None:
        await self._courier.dm(person, {"text": text, "blocks": blocks})

    def audit_lines(self, events: list[AuditEvent]) -> list[Letter]:
        """A line per event, as outbox letters the store queues with the rows. Never
        raises: a line that cannot be drawn must not fail the user's request (the row is
        the trail; the channel holds its copy)."""
        channel = self._config.channels.audit
        if not channel or not events:
            return []
        try:
            # A line each, up to a message's 50 blocks per post: a burst of a thousand
            # reminders is twenty posts, not a thousand (the channel takes about one a second).
            return self._courier.letters(channel, cards.audit_posts(events))
        except Exception:  # noqa: BLE001 - the audit rows are kept; only their copy is lost
            log.warning("audit lines for %s not drawn", channel, exc_info=True)
            return []

    async def send_audit_lines(self) -> None:
        channel = self._config.channels.audit
        if not channel:
            return
        try:
            await self._courier.send_queued(channel)
        except Exception:  # noqa: BLE001 - the lines stay queued: the courier retries them
            log.warning("audit lines for %s not sent yet", channel, exc_info=True)

    async def remind(self, record: ActivationRecord, now: datetime) -> None:
        await self._courier.dm(record.requester, self._reminder(record, now))

    async def remind_many(
        self, reminders: list[tuple[ActivationRecord, str]], now: datetime
    ) -> None:
        """A burst's reminder DMs queued in one transaction, each once by its key."""
        await self._courier.dm_many(
            [(record.requester, self._reminder(record, now), once) for record, once in reminders]
        )

    def _reminder(self, record: ActivationRecord, now: datetime) -> blocks.Message:
        """No Slack call: the time is a `<!date^…>` Slack shows in the reader's own zone;
        the fallback (notifications) names the zone last seen for them, else UTC."""
        tz = self._profiles.known_tz(record.requester)
        return blocks.reminder(record, now, tz, extend_choices(self._config, record, self._catalog))

    async def notify_ended(self, record: ActivationRecord, detail: str | None) -> None:
        msg = blocks.ended(record, detail)
        await self.send_dm(record.requester, msg["text"], msg["blocks"])

    async def post_approval_card(
        self, record: ActivationRecord, expires_at: datetime, asked: Asked | None = None
    ) -> str | None:
        """The card's reference is "channel ts": what chat.update needs to redraw it.
        Posted in the role's `approvals_channel`, else `channels.approvals`."""
        channel = approvals_channel(self._config, record, self._catalog)
        if not channel:
            return None
        url = self._config.ticket.url_template
        msg = cards.approval_card(record, expires_at, url, asked=asked)
        # Worth posting until the request expires; a refused post is retried till then.
        return await self._courier.post_card(channel, record.id, msg, give_up_at=expires_at)

    async def update_approval_card(
        self, record: ActivationRecord, tally: Tally | None = None
    ) -> None:
        if not record.card:
            return
        expires_at = record.created_at + self._config.approval_timeout
        url = self._config.ticket.url_template
        msg = cards.approval_card(record, expires_at, url, tally=tally)
        await self._courier.update_card(record.card, record.id, msg)

    async def ping_approvers(
        self, record: ActivationRecord, audience: Audience, nudge: Nudge
    ) -> None:
        """In the card's thread, so the ping sits under what it is about; worth sending
        until the request expires."""
        if not record.card:
            return
        expires_at = record.created_at + self._config.approval_timeout
        msg = nudges.ping(record, audience, nudge)
        once = f"ping {record.id} {nudge.kind.value} {nudge.seq}"
        await self._courier.reply_in_thread(
            record.card, record.id, msg, give_up_at=expires_at, once=once
        )

    async def notify_decision(self, record: ActivationRecord, error: str | None) -> None:
        msg = cards.decision_dm(record, error, await self._tz(record.requester))
        await self.send_dm(record.requester, msg["text"], msg["blocks"])
        if error and record.decided_by:
            await self.send_dm(record.decided_by, msg["text"], msg["blocks"])

    async def approved_then_entra(self, record: ActivationRecord) -> None:
        await self._dm(record.requester, cards.approved_then_entra(record))

    async def activation_settled(self, record: ActivationRecord) -> None:
        await self._dm(record.requester, cards.settled_after_restart(record))

    async def readiness(
        self, record: ActivationRecord, progress: Readiness, *, first: bool
    ) -> None:
        """One DM per activation, keyed `ready:<request id>`, then edited in place."""
        msg = drift.readiness(record, progress, self._config.readiness.timeout)
        key = f"ready:{record.id}"
        if first:
            await self._courier.dm(record.requester, msg, card=key)
        else:
            await self._courier.update_dm(record.requester, key, msg)

    async def readiness_late(self, record: ActivationRecord, progress: Readiness) -> None:
        """A new DM (an edit notifies nobody) and the audit channel's line."""
        timeout = self._config.readiness.timeout
        await self._dm(record.requester, drift.still_not_in_effect(record, timeout))
        await self._to_audit(drift.readiness_late(record, progress, timeout))

    async def outside_pimbot(self, seen: OutsideActivity) -> None:
        await self._to_audit(drift.outside_pimbot(seen))

    async def _to_audit(self, msg: blocks.Message) -> None:
        channel = self._config.channels.audit
        if not channel:
            return
        try:
            await self._courier.post(channel, msg)
        except Exception:  # noqa: BLE001 - like audit_lines: a lost copy must not fail the work
            log.warning("audit post to %s not queued", channel, exc_info=True)

    async def sign_in_code(self, person: PersonKey, prompt: DeviceCodePrompt) -> None:
        """Sent directly, never kept in the outbox: the code is a credential for minutes
        (the database must not hold it) and useless once they have passed."""
        text = signin.prompt_text(prompt, await self._tz(person))
        await self._courier.send_now(person, {"text": text, "blocks": None})

    async def signed_in(self, outcome: LoginOutcome) -> None:
        await self._dm(outcome.person, signin.signed_in(outcome))

    async def replayed(self, person: PersonKey, done: list[Replayed]) -> None:
        for each in done:
            await self._dm(person, signin.replayed(each))

    async def kept_work_dropped(self, person: PersonKey, dropped: Dropped) -> None:
        await self._dm(person, signin.dropped(dropped))

    async def home_changed(
        self, person: PersonKey, overview: Overview | None, link: LinkState | None
    ) -> None:
        view = home_tab.home_for(overview, link)
        try:
            await self._client.views_publish(user_id=person.chat_user_id, view=view)
        except (SlackApiError, SlackClientError, OSError, TimeoutError) as exc:
            log.warning("views.publish for %s failed: %s", person, type(exc).__name__)

    async def post_glass_alert(
        self, record: ActivationRecord, glass: BreakGlassRecord, approvers: tuple[ApproverRef, ...]
    ) -> str | None:
        """The alert with Ratify / Revoke in the approvals channel, and a copy without
        buttons in the audit channel; the reference is the approvals channel's."""
        audit = self._config.channels.audit
        if audit:
            copy = breakglass.glass_alert(record, glass, approvers, buttons=False)
            await self._courier.post(audit, copy)
        channel = approvals_channel(self._config, record, self._catalog)
        if not channel:
            return None
        msg = breakglass.glass_alert(record, glass, approvers)
        give_up = glass.ratify_by + timedelta(days=1)  # still worth seeing once settled
        return await self._courier.post_card(channel, _alert_key(record), msg, give_up_at=give_up)

    async def update_glass_alert(self, record: ActivationRecord, glass: BreakGlassRecord) -> None:
        if glass.alert:
            msg = breakglass.glass_alert(record, glass)
            await self._courier.update_card(glass.alert, _alert_key(record), msg)

    async def glass_settled(self, record: ActivationRecord, glass: BreakGlassRecord) -> None:
        await self._dm(record.requester, breakglass.glass_settled(record, glass))

    async def show_board(self, board: Board, ref: str | None) -> str | None:
        """`bot.service.board.BoardDisplay`: edit the audit channel's board in place
        ("channel ts"); post a new one when there is none, or when chat.update answers
        `message_not_found` ("No message exists with the requested timestamp",
        https://api.slack.com/methods/chat.update) because someone deleted it. Sent
        directly, not through the outbox: a board that misses a redraw is redrawn at the
        next change or periodic refresh, and an outbox would queue stale boards."""
        channel = self._config.channels.audit
        if not channel:
            return None
        msg = board_message(board)
        try:
            where, _, ts = (ref or "").partition(" ")
            if ref and where == channel and await self._edited(where, ts, msg):
                return ref
            posted = await self._client.chat_postMessage(channel=channel, **msg)
            return f"{posted['channel']} {posted['ts']}"
        except (SlackApiError, SlackClientError, OSError, TimeoutError) as exc:
            log.warning("the board in %s was not shown: %s", channel, type(exc).__name__)
            return ref

    async def _edited(self, channel: str, ts: str, msg: blocks.Message) -> bool:
        """chat.update; False when the message is gone (to be posted again)."""
        try:
            await self._client.chat_update(channel=channel, ts=ts, **msg)
        except SlackApiError as exc:
            if exc.response.get("error") != "message_not_found":
                raise
            return False
        return True

    async def _dm(self, person: PersonKey, msg: blocks.Message) -> None:
        await self.send_dm(person, msg["text"], msg["blocks"])


def _alert_key(record: ActivationRecord) -> str:
    """The outbox's card key of a break-glass alert: apart from the request's own card."""
    return f"glass:{record.id}"


def approvals_channel(
    config: PolicyFile, record: ActivationRecord, catalog: RoleCatalog
) -> str | None:
    """`roles.<alias>.approvals_channel` overrides `channels.approvals` for its cards:
    the service's own rule, so a card goes where the service checked it could."""
    return policies.approvals_channel(config, catalog, catalog.by_id(record.role_id))


def extend_choices(
    config: PolicyFile, record: ActivationRecord, catalog: RoleCatalog
) -> list[timedelta]:
    """Extension lengths offered in a reminder: the usual choices up to what is left of the
    role's maximum in pimbot.yml, counted from the activation's first start, and none once
    its `max_extensions` are used (the service re-checks both, and Graph's policy, on click)."""
    role = policies.role_config(config, catalog, record.role_id)
    if record.extensions >= (role.max_extensions if role else 1):
        return []
    cap = (role.max_duration if role else None) or config.default_max_duration
    if record.start is not None and record.end is not None:
        cap -= record.end - record.start
    fits = [d for d in blocks.EXTEND_CHOICES if d <= cap]
    return fits or ([cap] if cap >= timedelta(minutes=1) else [])
