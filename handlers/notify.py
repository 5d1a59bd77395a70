"""Slack adapter for the Notifier port: DMs, the approvals and audit channels, the App Home."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.approvals import Asked, Tally
from bot.domain.audit import AuditEvent
from bot.domain.people import PersonKey
from bot.domain.requests import ActivationRecord
from bot.service.outcomes import Dropped, Overview, Replayed
from bot.service.signins import DeviceCodePrompt, LinkState, LoginOutcome
from bot.settings import PolicyFile, RoleConfig
from handlers import blocks
from handlers.blocks import cards, signin
from handlers.blocks import home as home_tab
from handlers.outbox import Courier
from handlers.people import SlackUserDirectory

log = logging.getLogger(__name__)


class SlackNotifier:
    """Implements bot.service.ports.Notifier over the Web API: every fact the service
    reports becomes a message built in handlers/blocks, put in the outbox (`courier`) so
    it arrives even when Slack is slow, limiting or down for a while."""

    def __init__(self, client: AsyncWebClient, config: PolicyFile, courier: Courier) -> None:
        self._client, self._config, self._courier = client, config, courier
        self._profiles = SlackUserDirectory(client)  # the requester's tz for DM times

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

    async def post_audit(self, event: AuditEvent) -> None:
        """Copy an audit event to the audit channel. Never raises: the store holds the
        audit trail, so a Slack outage (or the outbox's database) must not fail the
        user's request."""
        channel = self._config.channels.audit
        if not channel:
            return
        try:
            await self._courier.post(channel, cards.audit_post(event))
        except Exception:  # noqa: BLE001 - the audit row is stored; only its copy is lost
            log.warning("audit post to %s not queued", channel, exc_info=True)

    async def remind(self, record: ActivationRecord, now: datetime) -> None:
        tz = await self._tz(record.requester)
        msg = blocks.reminder(record, now, tz, extend_choices(self._config, record))
        await self.send_dm(record.requester, msg["text"], msg["blocks"])

    async def notify_ended(self, record: ActivationRecord, detail: str | None) -> None:
        msg = blocks.ended(record, detail)
        await self.send_dm(record.requester, msg["text"], msg["blocks"])

    async def post_approval_card(
        self, record: ActivationRecord, expires_at: datetime, asked: Asked | None = None
    ) -> str | None:
        """The card's reference is "channel ts": what chat.update needs to redraw it.
        Posted in the role's `approvals_channel`, else `channels.approvals`."""
        channel = approvals_channel(self._config, record)
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

    async def notify_decision(self, record: ActivationRecord, error: str | None) -> None:
        msg = cards.decision_dm(record, error, await self._tz(record.requester))
        await self.send_dm(record.requester, msg["text"], msg["blocks"])
        if error and record.decided_by:
            await self.send_dm(record.decided_by, msg["text"], msg["blocks"])

    async def approved_then_entra(self, record: ActivationRecord) -> None:
        await self._dm(record.requester, cards.approved_then_entra(record))

    async def activation_settled(self, record: ActivationRecord) -> None:
        await self._dm(record.requester, cards.settled_after_restart(record))

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

    async def _dm(self, person: PersonKey, msg: blocks.Message) -> None:
        await self.send_dm(person, msg["text"], msg["blocks"])


def _role_config(config: PolicyFile, record: ActivationRecord) -> RoleConfig | None:
    """The pimbot.yml alias of the record's role (named by display name or id)."""
    return next(
        (r for r in config.roles.values() if r.role in (record.role_id, record.role_name)), None
    )


def approvals_channel(config: PolicyFile, record: ActivationRecord) -> str | None:
    """`roles.<alias>.approvals_channel` overrides `channels.approvals` for its cards."""
    role = _role_config(config, record)
    return (role.approvals_channel if role else None) or config.channels.approvals


def extend_choices(config: PolicyFile, record: ActivationRecord) -> list[timedelta]:
    """Extension lengths offered in a reminder: the usual choices up to the role's maximum
    in pimbot.yml (the service still enforces the stricter Graph policy on click)."""
    role = _role_config(config, record)
    cap = (role.max_duration if role else None) or config.default_max_duration
    return [d for d in blocks.EXTEND_CHOICES if d <= cap] or [cap]
