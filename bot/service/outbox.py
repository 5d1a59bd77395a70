"""The outbox port: messages that must arrive, kept in the database until the chat took them.

Chat-free: a parcel is a lane (where order matters: one channel, or one person's DMs), a
kind and a JSON body the front end chose. The Slack courier (handlers/outbox.py) sends
them; the SQL store (bot/store/outbox.py) keeps them across restarts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Parcel:
    """One message still to deliver; `card` is the request whose approval card it posts
    or redraws, so a redraw can find the post it follows; `error` is the chat's answer to
    the last attempt."""

    id: int
    lane: str
    kind: str
    body: dict[str, Any]
    card: str | None
    attempts: int
    not_before: datetime
    give_up_at: datetime
    error: str | None = None


class Outbox(Protocol):
    """Pending parcels in order per lane; one transaction per call."""

    def put(
        self,
        lane: str,
        kind: str,
        body: dict[str, Any],
        *,
        give_up_at: datetime,
        card: str | None = None,
        dedupe: str | None = None,
    ) -> int:
        """Queue a parcel; its id. With `dedupe`, a key already queued (or sent) queues
        nothing again and answers the first parcel's id."""
        ...

    def head(self, lane: str) -> Parcel | None:
        """The lane's oldest undelivered parcel: nothing behind it goes before it."""
        ...

    def due(self, now: datetime) -> list[Parcel]:
        """The head of every lane whose next attempt is due."""
        ...

    def claim(self, parcel_id: int, holder: str, now: datetime, until: datetime) -> bool:
        """Take a pending parcel for `holder` until `until`: True unless another holder's
        claim is still running (then that one sends it; after `until`, anyone may)."""
        ...

    def release(self, parcel_id: int, holder: str) -> None:
        """Give up `holder`'s claim at once (a send stopped halfway): anyone may send it."""
        ...

    def card_ref(self, card: str) -> str | None:
        """The chat's reference for a delivered card post (or DM sent with a card key)."""
        ...

    def delivered(self, parcel_id: int, ref: str | None) -> None: ...

    def retry(self, parcel_id: int, not_before: datetime, error: str) -> None: ...

    def give_up(self, parcel_id: int, error: str) -> None: ...

    def prune(self, before: datetime) -> int:
        """Forget parcels delivered or given up before `before`; how many."""
        ...
