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
import itertools
import logging
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
from bot.service.leases import holder_id
from bot.service.outbox import Letter, Outbox, Parcel
from bot.service.ports import Store
from bot.settings import PolicyFile
from handlers.blocks import Message, cards, delivery
from handlers.sandbox_mark import BLOCK_ID as SANDBOX_BLOCK
from handlers.sandbox_mark import PREFIX as SANDBOX_PREFIX

log = logging.getLogger(__name__)

POST, UPDATE, DM, THREAD = "post", "update", "dm", "thread"
# A post's body key saying it is an audit line: lines queued one after another in a lane
# go out as one message (`first_post`), so a burst's lines keep up with a channel that
# takes about one message a second. A body key, not a kind: a replica of an older
# version sends such a post alone, as before.
JOIN = "join"
LINES = "lines"
ALONE = " (joined)"  # a refused joined post's error mark: its head is next sent alone
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
MIN_POLL_SECONDS = 0.01
# Web API calls the courier has in flight at once, all lanes together: lanes go side by
# side (a thousand reminders to a thousand people need not queue behind one another),
# each in order and paced, without opening a connection per lane at once.
IN_FLIGHT = 16
# A parcel is one replica's to send for this long; a survivor takes over what a dead one
# claimed after it. Longer than one send (the SDK's 30 s timeout, retried once).
CLAIM = timedelta(seconds=60)
# Due lane heads claimed per statement by the background task: a burst's lanes in a few
# round trips, not a read and a claim each.
CLAIM_BATCH = 256
MAX_PASS = 16 * CLAIM_BATCH  # lanes one drain pass takes; the next poll goes on


def replica_id() -> str:
    """This process among the replicas, as its leases name it (host, pid, random part)."""
    return holder_id()


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
    _resting: dict[str, datetime] = field(default_factory=dict)  # refused: when a token is back

    def take(self, lane: str, now: datetime) -> bool:
        tokens, then = self._buckets.get(lane, (self.burst, now))
        elapsed = max((now - then).total_seconds(), 0.0)
        tokens = min(self.burst, tokens + elapsed * self.per_second)
        if tokens < 1.0:
            self._buckets[lane] = (tokens, now)
            self._resting[lane] = now + timedelta(seconds=(1.0 - tokens) / self.per_second)
            return False
        self._buckets[lane] = (tokens - 1.0, now)
        return True

    def resting(self, now: datetime) -> dict[str, datetime]:
        """The lanes refused a token that is not back yet, and when it is: claiming their
        heads before then would only be refused again (a transaction each)."""
        longest = timedelta(seconds=1.0 / self.per_second)  # more: the clock went back
        for lane in [k for k, back in self._resting.items() if not now < back <= now + longest]:
            del self._resting[lane]
        return self._resting


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
        in_flight: int = IN_FLIGHT,
    ) -> None:
        self._client, self._outbox, self._requests = client, outbox, requests
        self._mark = mark or (lambda msg: msg)  # PIM_SANDBOX: every message says so
        self._config, self._clock = config, clock
        self._pace = pace or Pace()
        self._dm_channels: dict[str, str] = {}
        self._in_flight = asyncio.Semaphore(in_flight)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Lanes a coroutine of this process is sending: it claims the lane's next head
        # as it marks one delivered, so no one else here starts on the lane meanwhile.
        # Taken without awaiting (a set, not a lock): whoever takes it holds what it read.
        self._owned: set[str] = set()
        self._sending: set[asyncio.Task[None]] = set()  # `dm_many`'s sends under way
        self._session: aiohttp.ClientSession | None = None  # kept open from start to aclose
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

    async def dm_many(self, letters: list[tuple[PersonKey, Message, str]]) -> None:
        """DMs to many people (a burst of reminders), each with its `once` key: queued in
        one transaction (a key already queued queues nothing again) that claims their
        lanes' heads; back then, while they are sent, lanes side by side, in the
        background: the caller's next batch is read meanwhile, not after its sends."""
        if not letters:
            return
        deadline = self._clock.now() + DELIVERY_WINDOW
        queued = [
            Letter(
                f"dm:{person.chat_user_id}",
                DM,
                {"user": person.chat_user_id, **self._mark(msg)},
                deadline,
                dedupe=once,
            )
            for person, msg, once in letters
        ]
        await self._put_many(queued, wait=False)

    async def post_many(self, channel: str, msgs: list[Message]) -> None:
        """Posts to one channel (a burst's audit lines), queued in one transaction, then
        sent in order until the channel's pace says wait (the background task goes on)."""
        if msgs:
            await self._put_many(self.letters(channel, msgs))

    def letters(self, channel: str, msgs: list[Message]) -> list[Letter]:
        """Posts to one channel as letters, for a caller that queues them in a transaction
        of its own (an audit row and its line), then calls `send_queued`."""
        deadline = self._clock.now() + DELIVERY_WINDOW
        return [
            Letter(channel, POST, {"channel": channel, **self._mark(m), JOIN: LINES}, deadline)
            for m in msgs
        ]

    async def send_queued(self, lane: str) -> None:
        """Send what another transaction queued in `lane`, from its head, as `_put` sends
        what it queued itself (a lane a coroutine here is sending is left to it: it
        claims the lane's next head after each parcel)."""
        self._ensure_running()
        if lane in self._pace.resting(self._clock.now()):
            return  # the background task claims its head when its pace allows
        if not self._take([lane]):
            self._wake.set()
            return
        try:
            head = self._claim_next(lane)
        except BaseException:
            self._owned.discard(lane)
            raise
        await self._send_lane(lane, head)

    async def _put_many(self, letters: list[Letter], *, wait: bool = True) -> None:
        """Queue them in one transaction that also claims their lanes' heads for this
        replica, then send those lanes side by side (without `wait`, in a task of their
        own). A lane another coroutine here is sending is left to it (it claims the
        lane's next head after each parcel)."""
        self._ensure_running()
        mine = self._take(list(dict.fromkeys(letter.lane for letter in letters)))
        try:
            now = self._clock.now()
            heads = self._outbox.put_many(letters, holder=self._me, until=now + CLAIM)
        except BaseException:
            self._owned.difference_update(mine)
            raise
        if len(mine) < len({letter.lane for letter in letters}):
            self._wake.set()
        if wait:
            await self._send_lanes(mine, heads)
            return
        sending = asyncio.get_running_loop().create_task(self._send_lanes(mine, heads))
        self._sending.add(sending)  # kept (the loop holds tasks weakly), cancelled by aclose
        sending.add_done_callback(self._sending.discard)

    def _take(self, lanes: list[str]) -> list[str]:
        """The lanes no coroutine here is sending, now this caller's (no await between
        the test and the taking)."""
        free = [lane for lane in lanes if lane not in self._owned]
        self._owned.update(free)
        return free

    async def _send_lanes(self, lanes: list[str], heads: list[Parcel]) -> None:
        """Send the lanes this caller took, each from its claimed head (a lane whose head
        was not claimed, not due or another replica's, is given back at once)."""
        first = {parcel.lane: parcel for parcel in heads}
        await asyncio.gather(*(self._send_lane(lane, first.get(lane)) for lane in lanes))

    async def _send_lane(self, lane: str, parcel: Parcel | None) -> None:
        try:
            await self._lane(lane, parcel)
        except Exception:  # noqa: BLE001 - the parcel is kept; the background task retries
            log.warning("outbox lane %s: sending failed; will retry", lane, exc_info=True)
            self._wake.set()
        finally:
            self._owned.discard(lane)

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
        now = self._clock.now()
        deadline = give_up_at or now + DELIVERY_WINDOW
        self._ensure_running()
        if not self._take([lane]):  # being sent (maybe by this very call's caller)
            self._outbox.put(lane, kind, body, give_up_at=deadline, card=card, dedupe=dedupe)
            self._wake.set()
            return
        try:  # put and claimed at once: the usual case needs no read, claim or wait
            head = self._outbox.put_and_claim(
                lane, kind, body, give_up_at=deadline, card=card, dedupe=dedupe,
                holder=self._me, until=now + CLAIM,
            )  # fmt: skip
        except BaseException:
            self._owned.discard(lane)
            raise
        await self._send_lane(lane, head)

    # -- running -------------------------------------------------------------------

    async def start(self) -> None:
        """Forget long-delivered rows and resume what is pending."""
        pruned = self._outbox.prune(self._clock.now() - KEEP_DONE)
        if pruned:
            log.info("outbox: forgot %d message(s) delivered over a week ago", pruned)
        self._remember_dm_channels()
        if self._client.session is None:
            self._session = self._client.session = _session(self._client)
        self._ensure_running()

    async def sent(self) -> None:
        """Wait for the sends `dm_many` left going in the background (a caller that must
        see them out, as a test's sweep does)."""
        while self._sending:
            await asyncio.wait(set(self._sending))

    async def aclose(self) -> None:
        tasks = [t for t in (self._task, *self._sending) if t is not None]
        self._task = None
        for task in tasks:  # a send cut off releases its claim (`_deliver`)
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        session, self._session = self._session, None
        if session is not None:
            if self._client.session is session:
                self._client.session = None
            await session.close()

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
                await asyncio.wait_for(self._wake.wait(), self._until_next_poll())

    def _until_next_poll(self) -> float:
        """Seconds to the next pass: POLL_SECONDS, or less when a paced lane's token is
        back sooner (its head is left alone until then)."""
        now = self._clock.now()
        backs = self._pace.resting(now).values()
        soonest = min(((back - now).total_seconds() for back in backs), default=POLL_SECONDS)
        return min(POLL_SECONDS, max(soonest, MIN_POLL_SECONDS))

    async def drain(self) -> None:
        """Send every lane's due parcels, lanes side by side: their heads claimed in
        batches (lanes a coroutine here is sending, or paced for now, are left alone)."""
        seen: set[str] = set()  # each lane once a pass: one paced or retrying is not spun
        while len(seen) < MAX_PASS:
            now = self._clock.now()
            busy = sorted(self._owned | seen | self._pace.resting(now).keys())
            heads = self._outbox.claim_due(self._me, now, now + CLAIM, CLAIM_BATCH, busy=busy)
            lanes = self._take([parcel.lane for parcel in heads])
            seen.update(lanes)
            await self._send_lanes(lanes, heads)
            if len(heads) < CLAIM_BATCH:
                return

    async def _lane(self, lane: str, parcel: Parcel | None) -> None:
        """Send the lane's parcels in order, from its claimed head, until one must wait
        (pace, retry, failure) or another replica holds the next one."""
        while parcel is not None:
            now = self._clock.now()
            if parcel.not_before > now or not self._pace.take(lane, now):
                return  # still claimed by us: the background task claims it again
            parcel = await self._deliver(parcel, now)

    def _claim_next(self, lane: str) -> Parcel | None:
        now = self._clock.now()
        heads = self._outbox.claim_heads([lane], self._me, now, now + CLAIM)
        return heads[0] if heads else None

    def _still_mine(self, parcel: Parcel, claimed_at: datetime) -> bool:
        """A parcel that waited for a free connection since its claim: renewed before it
        goes, so a claim never runs out during its own send (another replica would send
        it too)."""
        now = self._clock.now()
        if now - claimed_at < CLAIM / 2:
            return True
        return self._outbox.claim(parcel.id, self._me, now, now + CLAIM)

    # -- delivering ------------------------------------------------------------------

    async def _deliver(self, parcel: Parcel, now: datetime) -> Parcel | None:
        """One attempt on a parcel this replica claimed at `now`; the lane's next head,
        claimed, when the lane may go on (delivered, or given up), else None."""
        if now >= parcel.give_up_at:  # a card past its request's timeout, a stale notice
            return self._next_if(self._give_up(parcel, "deadline_passed"), parcel.lane)
        riders, joined = self._joined(parcel, now)
        try:
            async with self._in_flight:
                if not self._still_mine(parcel, now):
                    return None  # another replica took it over: it goes on
                ref = await self._send(parcel, joined)
        except asyncio.CancelledError:  # shutting down mid-send: a replica may go on now
            self._outbox.release(parcel.id, self._me)
            raise
        except SlackApiError as exc:
            go_on = await self._refused(parcel, exc, now, joined=bool(riders))
            return self._next_if(go_on, parcel.lane)
        except Undeliverable as exc:
            return self._next_if(self._give_up(parcel, str(exc)), parcel.lane)
        except (SlackClientError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            go_on = self._later(parcel, now, _backoff(parcel), type(exc).__name__)
            return self._next_if(go_on, parcel.lane)
        # Marked delivered (with the lines that rode along) and the lane's next head
        # claimed, in one transaction.
        until = self._clock.now() + CLAIM
        following = self._outbox.delivered_next(
            parcel, ref, self._me, until, also=[rider.id for rider in riders]
        )
        if parcel.kind == POST and parcel.card:
            self._card_posted(parcel.card, ref)
        return following

    def _joined(self, parcel: Parcel, now: datetime) -> tuple[list[Parcel], Message | None]:
        """The audit lines queued right behind `parcel` (an audit line itself) that go in
        its message, and that message; none when it is not a line, or a joined message
        was refused last time. The head's claim keeps them: only a lane's head is ever
        claimed, so no replica sends them meanwhile."""
        if not _joins(parcel, now) or (parcel.error or "").endswith(ALONE):
            return [], None
        room = cards.room_behind(_unmarked(parcel.body))
        behind = self._outbox.following(parcel, room) if room else []
        lines = list(itertools.takewhile(lambda p: _joins(p, now), behind))
        if not lines:
            return [], None
        taken, joined = cards.first_post([_unmarked(p.body) for p in [parcel, *lines]])
        return lines[: taken - 1], self._mark(joined) if taken > 1 else None

    def _next_if(self, go_on: bool, lane: str) -> Parcel | None:
        return self._claim_next(lane) if go_on else None

    def _card_posted(self, card: str, ref: str) -> None:
        """Keep where the card now is: a request's card, or a break-glass alert
        (`glass:<request id>`)."""
        kind, _, request_id = card.partition(":")
        if kind == "glass":
            self._requests.update_break_glass(request_id, alert=ref)
        else:
            self._requests.update_request(card, card=ref)

    async def _send(self, parcel: Parcel, joined: Message | None = None) -> str:
        """One Web API call (`joined`: the message it carries instead, lines joined);
        Slack's "channel ts" of the message (the SDK raises unless Slack answered `ok:
        true`)."""
        body = parcel.body
        msg = joined or {"text": body.get("text"), "blocks": body.get("blocks")}
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
        """The DM's conversation id, kept per person (filled at `start` from the DMs the
        outbox delivered this week); else `conversations.open`. Kept rather than passing
        the user ID as chat.postMessage's `channel`: Slack's method page could not be
        confirmed to document that for a bot token."""
        channel = self._dm_channels.get(user)
        if channel is None:
            opened = await self._client.conversations_open(users=user)
            channel = self._dm_channels[user] = str(opened["channel"]["id"])
        return channel

    def _remember_dm_channels(self) -> None:
        """One read at start instead of a `conversations.open` per person after each
        restart: a delivered DM's reference is "D... ts" (chat.postMessage's answer)."""
        for lane, ref in self._outbox.latest_refs(DM).items():
            user, channel = lane.removeprefix("dm:"), ref.partition(" ")[0]
            if lane.startswith("dm:") and channel:
                self._dm_channels.setdefault(user, channel)

    async def _refused(
        self, parcel: Parcel, exc: SlackApiError, now: datetime, *, joined: bool = False
    ) -> bool:
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
        if joined:  # lines are not lost to the joining: the head alone next, then the rest
            return self._later(parcel, now, timedelta(0), error + ALONE)
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
        audit = self._config.channels.audit
        lines = self.letters(audit, [cards.audit_post(event)]) if audit else []
        self._requests.append_audit(event, lines)  # the row and its line: one transaction
        await self._guarded(
            self.dm(record.requester, delivery.card_not_posted(record, channel, error))
        )
        if audit:
            await self._guarded(self.send_queued(audit))

    async def _guarded(self, work: Awaitable[None]) -> None:
        try:
            await work
        except Exception:  # noqa: BLE001 - the card's own retries must go on regardless
            log.exception("outbox: could not queue a delivery notice")


def _joins(parcel: Parcel, now: datetime) -> bool:
    """An audit line due now, which may share a message with its neighbours."""
    due = parcel.not_before <= now < parcel.give_up_at
    return parcel.kind == POST and parcel.body.get(JOIN) == LINES and not parcel.card and due


def _unmarked(body: dict[str, Any]) -> Message:
    """A queued post as drawn, before the sandbox note was added (`Courier._mark` adds it
    once to the joined message)."""
    blocks = [b for b in body.get("blocks") or [] if b.get("block_id") != SANDBOX_BLOCK]
    return {"text": str(body.get("text") or "").removeprefix(SANDBOX_PREFIX), "blocks": blocks}


def _session(client: AsyncWebClient) -> aiohttp.ClientSession:
    """One HTTP session for the client while the courier runs (the notifier's users.info
    and the Bolt app share the client, and so the session): without one the SDK opens a
    session per call ("Submit the HTTP request with the running session or a new
    session", slack_sdk/web/async_internal_utils.py), so a new connection (and, to
    slack.com, a TLS handshake) for every message of a burst. The timeout is the one the
    SDK gives a session of its own."""
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=client.timeout))


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
