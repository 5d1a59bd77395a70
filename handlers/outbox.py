"""The courier: sends what the outbox holds to Slack, in order per channel, paced, and
again after failures and restarts; never marks a message sent before Slack said `ok`.

- Order: one lane per channel (and per person for DMs); a lane's next message waits until
  the one before it was delivered or given up.
- Pace: "chat.postMessage generally allows posting one message per second per channel,
  while also maintaining a workspace-wide limit"; "Short bursts >1 allowed"
  (https://api.slack.com/docs/rate-limits): a small burst, then one a second per lane.
- 429: Slack's `Retry-After` says when to try again; 5xx and network errors back off
  exponentially. The SDK's own retry handlers (`web_client`) try once more first.
- A channel the bot cannot post in (`not_in_channel`, `channel_not_found`, `is_archived`)
  is tried again every few minutes until the parcel's deadline (a card's: its request's
  approval timeout); the requester of a refused card is told why, and it is audited.
- Any other error (`invalid_blocks`, `msg_too_long`, …) will not change: given up, logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import Clock
from bot.domain.audit import AuditKind, event_for
from bot.domain.people import PersonKey
from bot.service.outbox import Outbox, Parcel
from bot.service.ports import Store
from bot.settings import PolicyFile
from handlers.blocks import Message, cards, delivery

log = logging.getLogger(__name__)

POST, UPDATE, DM, THREAD = "post", "update", "dm", "thread"
QUEUED = "queued"  # the ts of a card reference whose post is still in the outbox
# Errors an admin can fix (invite the bot, unarchive): worth trying again, now and then.
FIXABLE = frozenset(delivery.WHY_NOT_POSTED)
FIXABLE_RETRY = timedelta(minutes=5)
# Slack's own "try again" answers besides 429 and HTTP 5xx (a `fatal_error` may have
# half-succeeded, per Slack's error tables: at least once, so it may show twice).
TRANSIENT = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
MAX_BACKOFF = timedelta(minutes=5)
DELIVERY_WINDOW = timedelta(days=1)  # how long anything but a card is worth sending
KEEP_DONE = timedelta(days=7)  # finished rows kept a week: what went out, what was given up
POLL_SECONDS = 1.0  # a moved clock or a retry falling due is noticed this soon
# A parcel is one replica's to send for this long; a survivor takes over what a dead one
# claimed after it. Longer than one send (the SDK's 30 s timeout, retried once).
CLAIM = timedelta(seconds=60)


def replica_id() -> str:
    """This process among the replicas: host, pid and a random part (pids repeat)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


READ_RETRIES = 3  # 429s a read on a click's path waits out before it fails


def web_client(token: str | None, base_url: str, *, rate_limit_retries: int = 1) -> AsyncWebClient:
    """The bot's Web API client with the SDK's retry handlers: connection errors and
    500/503 retried once, 429 after its `Retry-After` `rate_limit_retries` times — once
    for sends (the outbox retries them), more for reads on a click's path, which have no
    outbox behind them (users.info for an approver's liveness)
    (https://docs.slack.dev/tools/python-slack-sdk/reference/http_retry/builtin_async_handlers.html;
    the client's default is the connection-error handler alone)."""
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(),
            AsyncRateLimitErrorRetryHandler(max_retry_count=rate_limit_retries),
            AsyncServerErrorRetryHandler(),
        ],
    )


@dataclass
class Pace:
    """A token bucket per lane: `burst` messages at once, then `per_second`."""

    per_second: float = 1.0
    burst: float = 3.0
    _buckets: dict[str, tuple[float, datetime]] = field(default_factory=dict)

    def take(self, lane: str, now: datetime) -> bool:
        tokens, then = self._buckets.get(lane, (self.burst, now))
        elapsed = max((now - then).total_seconds(), 0.0)
        tokens = min(self.burst, tokens + elapsed * self.per_second)
        if tokens < 1.0:
            self._buckets[lane] = (tokens, now)
            return False
        self._buckets[lane] = (tokens - 1.0, now)
        return True


class Undeliverable(Exception):
    """A parcel that cannot be sent as it stands (a redraw of a card never posted)."""


class Courier:
    """Puts messages in the outbox and delivers them; `start` resumes what a previous run
    left pending, and a background task keeps trying until each lane is empty."""

    def __init__(
        self,
        client: AsyncWebClient,
        outbox: Outbox,
        requests: Store,
        config: PolicyFile,
        clock: Clock,
        *,
        pace: Pace | None = None,
        mark: Callable[[Message], Message] | None = None,
    ) -> None:
        self._client, self._outbox, self._requests = client, outbox, requests
        self._mark = mark or (lambda msg: msg)  # PIM_SANDBOX: every message says so
        self._config, self._clock = config, clock
        self._pace = pace or Pace()
        self._dm_channels: dict[str, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._me = replica_id()  # whose claim a parcel carries

    # -- putting -----------------------------------------------------------------

    async def post(
        self,
        channel: str,
        msg: Message,
        *,
        card: str | None = None,
        give_up_at: datetime | None = None,
    ) -> None:
        await self._put(channel, POST, {"channel": channel, **self._mark(msg)}, card, give_up_at)

    async def dm(self, person: PersonKey, msg: Message, *, card: str | None = None) -> None:
        """A DM; with `card`, one that `update_dm` can redraw later."""
        user = person.chat_user_id
        await self._put(f"dm:{user}", DM, {"user": user, **self._mark(msg)}, card, None)

    async def update_dm(self, person: PersonKey, card: str, msg: Message) -> None:
        """Redraw the DM sent with `card`: chat.update needs the conversation id and ts
        that chat.postMessage answered (https://api.slack.com/methods/chat.update), so both
        come from that delivery's reference. In the DM's own lane: it follows the post
        however long that waits."""
        user = person.chat_user_id
        body = {"user": user, "ts": None, **self._mark(msg)}
        await self._put(f"dm:{user}", UPDATE, body, card, None)

    async def send_now(self, person: PersonKey, msg: Message) -> None:
        """A DM that must not be kept (it holds a secret): sent at once, or not at all."""
        channel = await self._dm_channel(person.chat_user_id)
        await self._client.chat_postMessage(channel=channel, **self._mark(msg))

    async def post_card(
        self, channel: str, request_id: str, msg: Message, give_up_at: datetime
    ) -> str:
        """The card's reference ("channel ts"): Slack's, once posted; until then one whose
        ts is resolved when a redraw is sent (it follows the post in the same lane)."""
        await self.post(channel, msg, card=request_id, give_up_at=give_up_at)
        return self._outbox.card_ref(request_id) or f"{channel} {QUEUED}"

    async def update_card(self, ref: str, request_id: str, msg: Message) -> None:
        channel, _, ts = ref.partition(" ")
        body = {"channel": channel, "ts": None if ts == QUEUED else ts, **self._mark(msg)}
        await self._put(channel, UPDATE, body, request_id, None)

    async def reply_in_thread(
        self, ref: str, request_id: str, msg: Message, give_up_at: datetime, *, once: str
    ) -> None:
        """A reply under a card: queued in the card's channel lane, so it follows the
        card's post, and its `thread_ts` (the card's ts) is read when it is sent. `once`:
        its key; the same key again queues nothing (a retry after a crash)."""
        channel, _, ts = ref.partition(" ")
        body = {"channel": channel, "thread_ts": None if ts == QUEUED else ts, **self._mark(msg)}
        await self._put(channel, THREAD, body, request_id, give_up_at, dedupe=once)

    async def _put(
        self,
        lane: str,
        kind: str,
        body: dict[str, Any],
        card: str | None,
        give_up_at: datetime | None,
        dedupe: str | None = None,
    ) -> None:
        deadline = give_up_at or self._clock.now() + DELIVERY_WINDOW
        self._outbox.put(lane, kind, body, give_up_at=deadline, card=card, dedupe=dedupe)
        self._ensure_running()
        if self._lock(lane).locked():  # being drained (maybe by this very call's caller)
            self._wake.set()
            return
        try:  # at once when the lane is free: the usual case needs no background wait
            await self.drain_lane(lane)
        except Exception:  # noqa: BLE001 - the parcel is kept; the background task retries
            log.warning("outbox lane %s: sending failed; will retry", lane, exc_info=True)
            self._wake.set()

    # -- running -------------------------------------------------------------------

    async def start(self) -> None:
        """Forget long-delivered rows and resume what is pending."""
        pruned = self._outbox.prune(self._clock.now() - KEEP_DONE)
        if pruned:
            log.info("outbox: forgot %d message(s) delivered over a week ago", pruned)
        self._ensure_running()

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.drain()
            except Exception:  # noqa: BLE001 - e.g. the database away a moment: try again
                log.exception("outbox: draining failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)

    async def drain(self) -> None:
        """Send every lane's due parcels, lanes side by side."""
        lanes = {p.lane for p in self._outbox.due(self._clock.now())}
        await asyncio.gather(*(self.drain_lane(lane) for lane in sorted(lanes)))

    async def drain_lane(self, lane: str) -> None:
        """Send the lane's parcels in order until one must wait (pace, retry, failure)."""
        async with self._lock(lane):
            while (parcel := self._outbox.head(lane)) is not None:
                now = self._clock.now()
                if parcel.not_before > now or not self._pace.take(lane, now):
                    return
                if not self._outbox.claim(parcel.id, self._me, now, now + CLAIM):
                    return  # another replica is sending the lane's head: it goes on
                if not await self._deliver(parcel, now):
                    return

    def _lock(self, lane: str) -> asyncio.Lock:
        return self._locks.setdefault(lane, asyncio.Lock())

    # -- delivering ------------------------------------------------------------------

    async def _deliver(self, parcel: Parcel, now: datetime) -> bool:
        """One attempt; True when the lane may go on (delivered, or given up)."""
        if now >= parcel.give_up_at:  # a card past its request's timeout, a stale notice
            return self._give_up(parcel, "deadline_passed")
        try:
            ref = await self._send(parcel)
        except asyncio.CancelledError:  # shutting down mid-send: a replica may go on now
            self._outbox.release(parcel.id, self._me)
            raise
        except SlackApiError as exc:
            return await self._refused(parcel, exc, now)
        except Undeliverable as exc:
            return self._give_up(parcel, str(exc))
        except (SlackClientError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            return self._later(parcel, now, _backoff(parcel), type(exc).__name__)
        self._outbox.delivered(parcel.id, ref)
        if parcel.kind == POST and parcel.card:
            self._card_posted(parcel.card, ref)
        return True

    def _card_posted(self, card: str, ref: str) -> None:
        """Keep where the card now is: a request's card, or a break-glass alert
        (`glass:<request id>`)."""
        kind, _, request_id = card.partition(":")
        if kind == "glass":
            self._requests.update_break_glass(request_id, alert=ref)
        else:
            self._requests.update_request(card, card=ref)

    async def _send(self, parcel: Parcel) -> str:
        """One Web API call; Slack's "channel ts" of the message (the SDK raises unless
        Slack answered `ok: true`)."""
        body = parcel.body
        msg = {"text": body.get("text"), "blocks": body.get("blocks")}
        if parcel.kind == DM:
            sent = await self._client.chat_postMessage(
                channel=await self._dm_channel(str(body["user"])), **msg
            )
        elif parcel.kind == POST:
            sent = await self._client.chat_postMessage(channel=body["channel"], **msg)
        elif parcel.kind == THREAD:
            # "Provide another message's ts value to make this message a reply"
            # (https://api.slack.com/methods/chat.postMessage#arg_thread_ts).
            ts = body.get("thread_ts") or self._posted_ref(parcel).partition(" ")[2]
            sent = await self._client.chat_postMessage(channel=body["channel"], thread_ts=ts, **msg)
        elif body.get("channel") and body.get("ts"):
            sent = await self._client.chat_update(channel=body["channel"], ts=body["ts"], **msg)
        else:  # the posted message's own "channel ts" (a DM's channel is known only then)
            channel, _, ts = self._posted_ref(parcel).partition(" ")
            sent = await self._client.chat_update(
                channel=body.get("channel") or channel, ts=ts, **msg
            )
        return f"{sent['channel']} {sent['ts']}"

    def _posted_ref(self, parcel: Parcel) -> str:
        ref = self._outbox.card_ref(parcel.card or "")
        if ref is None:
            raise Undeliverable("card_never_posted")
        return ref

    async def _dm_channel(self, user: str) -> str:
        channel = self._dm_channels.get(user)
        if channel is None:
            opened = await self._client.conversations_open(users=user)
            channel = self._dm_channels[user] = str(opened["channel"]["id"])
        return channel

    async def _refused(self, parcel: Parcel, exc: SlackApiError, now: datetime) -> bool:
        status = int(getattr(exc.response, "status_code", 200) or 200)
        error = str(exc.response.get("error") or f"http_{status}")
        if status == 429 or error == "ratelimited":
            return self._later(parcel, now, _retry_after(exc), error)
        if status >= 500 or error in TRANSIENT:
            return self._later(parcel, now, _backoff(parcel), error)
        if error in FIXABLE:
            if parcel.error not in FIXABLE and parcel.kind == POST and parcel.card:
                await self._card_refused(parcel, error, now)
            return self._later(parcel, now, FIXABLE_RETRY, error)
        return self._give_up(parcel, error)

    def _later(self, parcel: Parcel, now: datetime, wait: timedelta, error: str) -> bool:
        if now + wait > parcel.give_up_at:
            return self._give_up(parcel, error)
        seconds = wait.total_seconds()
        log.info("outbox lane %s: %s; trying again in %.0f s", parcel.lane, error, seconds)
        self._outbox.retry(parcel.id, now + wait, error)
        return False

    def _give_up(self, parcel: Parcel, error: str) -> bool:
        log.warning("outbox lane %s: gave up on a %s: %s", parcel.lane, parcel.kind, error)
        self._outbox.give_up(parcel.id, error)
        return True

    async def _card_refused(self, parcel: Parcel, error: str, now: datetime) -> None:
        """Tell the requester why approvers have not seen the card, and audit it; both are
        parcels of their own (other lanes), so the card's retries do not hold them."""
        record = self._requests.get_request(parcel.card or "")
        if record is None:
            return
        channel = str(parcel.body["channel"])
        event = event_for(
            AuditKind.CARD_NOT_POSTED,
            record,
            at=now,
            actor=None,
            detail=f"card not posted to {channel}: {error}; retried",
        )
        self._requests.append_audit(event)
        await self._guarded(
            self.dm(record.requester, delivery.card_not_posted(record, channel, error))
        )
        if self._config.channels.audit:
            await self._guarded(self.post(self._config.channels.audit, cards.audit_post(event)))

    async def _guarded(self, work: Awaitable[None]) -> None:
        try:
            await work
        except Exception:  # noqa: BLE001 - the card's own retries must go on regardless
            log.exception("outbox: could not queue a delivery notice")


def _retry_after(exc: SlackApiError) -> timedelta:
    """Slack's `Retry-After` (seconds); one second if it sent none."""
    headers = getattr(exc.response, "headers", None) or {}
    raw = next((v for k, v in headers.items() if k.lower() == "retry-after"), "1")
    value = raw[0] if isinstance(raw, list) else raw
    try:
        return timedelta(seconds=max(float(value), 0.0))
    except ValueError:
        return timedelta(seconds=1)


def _backoff(parcel: Parcel) -> timedelta:
    return min(timedelta(seconds=2 ** min(parcel.attempts, 10)), MAX_BACKOFF)
