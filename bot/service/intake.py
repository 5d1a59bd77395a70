"""Acked work kept until it is done: a replica that dies (or a process that crashes)
with commands acked but not yet carried out leaves them to a survivor, once.

Slack has been answered ("Working on it…") the moment a command is acked: a slash
command must be acked within 3 seconds
(https://api.slack.com/interactivity/slash-commands#responding_basic_receipt), and Slack
documents retries for Events API deliveries only, not for commands. Between that ack
and the request being stored, the command lives only in the replica's memory:
queued behind other work, or held while a burst's acks go out (handlers/work.py). So the
front end keeps each acked command here first (`keep`), and drops it once its work is
over (`done`). The row is leased to its replica and renewed every round; a replica that
died stops renewing, and a survivor's round takes the lapsed row (one conditional UPDATE:
one replica wins) and replays it through the front end's `replay`.

Replayed, a command is run as the user typed it: what it already did is refused as a
duplicate where it matters (an open request for the same role is unique in the store,
and Entra refuses a second activation of an active role), so a row replayed after its
work was done but before it was dropped costs at most a second answer, never a second
activation.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.clock import Clock

log = logging.getLogger(__name__)
# A replayed command answers through its response_url, which Slack honours for 30
# minutes (https://api.slack.com/interactivity/handling#message_responses): older rows
# are dropped unreplayed, their user told nothing more than the "Working on it…" they saw.
REPLAY_WITHIN = timedelta(minutes=25)


@dataclass(frozen=True, slots=True)
class Acked:
    """One acked piece of work: what the front end needs to run it again."""

    id: str
    kind: str
    payload: dict[str, Any]
    at: datetime


Replay = Callable[[Acked], Awaitable[None]]


class IntakeStore(Protocol):
    """Acked work by id, each under one replica's lease (bot.store.intake)."""

    def keep(self, item: Acked, holder: str, until: datetime) -> None: ...

    def drop(self, item_id: str) -> None: ...

    def renew(self, holder: str, until: datetime) -> None:
        """Every row this holder keeps, leased until `until`."""
        ...

    def lapsed(self, now: datetime) -> list[Acked]: ...

    def take(self, item_id: str, holder: str, now: datetime, until: datetime) -> bool:
        """True for the one replica whose UPDATE found the lease still lapsed."""
        ...


class Intake:
    """This replica's acked work, kept until done; others' lapsed work replayed here."""

    def __init__(
        self,
        store: IntakeStore,
        clock: Clock,
        holder: str,
        *,
        lease: timedelta,
        scan_every: float,
    ) -> None:
        self._store, self._clock, self.holder = store, clock, holder
        self.lease, self.scan_every = lease, scan_every
        self._replays: set[asyncio.Task[None]] = set()

    def keep(self, kind: str, payload: dict[str, Any]) -> str | None:
        """Keep acked work under this replica's lease; its id, or None when it could not
        be written (the work goes on: only its takeover is lost)."""
        now = self._clock.now()
        item = Acked(uuid.uuid4().hex, kind, payload, now)
        try:
            self._store.keep(item, self.holder, now + self.lease)
        except Exception:  # noqa: BLE001 - the database away a moment must not cost the work
            log.warning("acked %s not kept; a crash before it is done would lose it", kind)
            return None
        return item.id

    def done(self, item_id: str | None) -> None:
        if item_id is None:
            return
        try:
            self._store.drop(item_id)
        except Exception:  # noqa: BLE001 - it lapses and is replayed: a second answer at most
            log.warning("acked work %s not dropped; it may be answered twice", item_id)

    async def run_forever(self, replay: Replay) -> None:
        while True:
            try:
                await self.round(replay)
            except Exception:  # noqa: BLE001 - the database away: the next round retries
                log.exception("intake round failed; next in %s s", self.scan_every)
            await asyncio.sleep(self.scan_every)

    async def round(self, replay: Replay) -> list[str]:
        """Renew this replica's rows, take over lapsed ones and replay each (in a task of
        its own, so renewing never waits for the work). Returns the ids taken over."""
        now = self._clock.now()
        until = now + self.lease
        await asyncio.to_thread(self._store.renew, self.holder, until)
        taken = []
        for item in await asyncio.to_thread(self._store.lapsed, now):
            if not await asyncio.to_thread(self._store.take, item.id, self.holder, now, until):
                continue  # another replica won it
            taken.append(item.id)
            task = asyncio.create_task(self._replay(replay, item, now))
            self._replays.add(task)
            task.add_done_callback(self._replays.discard)
        return taken

    async def _replay(self, replay: Replay, item: Acked, now: datetime) -> None:
        if now - item.at > REPLAY_WITHIN:
            log.warning("acked %s from %s dropped: too old to answer", item.kind, item.at)
        else:
            log.warning("acked %s: its replica died before doing it; carrying it on", item.kind)
            try:
                await replay(item)
            except Exception:  # noqa: BLE001 - replayed once: a second failure is not retried
                log.exception("replaying acked %s failed", item.kind)
        self.done(item.id)

    async def settled(self) -> None:
        """Until the replays started so far are over (tests, shutdown)."""
        while self._replays:
            await asyncio.gather(*self._replays, return_exceptions=True)

    async def aclose(self) -> None:
        for task in list(self._replays):
            task.cancel()
        await asyncio.gather(*self._replays, return_exceptions=True)
