"""The outbox port: messages that must arrive, kept in the database until the chat took them.

Chat-free: a parcel is a lane (where order matters: one channel, or one person's DMs), a
kind and a JSON body the front end chose. The Slack courier (handlers/outbox.py) sends
them; the SQL store (bot/store/outbox.py) keeps them across restarts.
"""

from __future__ import annotations

from collections.abc import Sequence
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


@dataclass(frozen=True, slots=True)
class Letter:
    """A parcel to queue among others in one transaction (`Outbox.put_many`); `dedupe` as
    for `Outbox.put`."""

    lane: str
    kind: str
    body: dict[str, Any]
    give_up_at: datetime
    dedupe: str | None = None


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

    def put_and_claim(
        self,
        lane: str,
        kind: str,
        body: dict[str, Any],
        *,
        give_up_at: datetime,
        holder: str,
        until: datetime,
        card: str | None = None,
        dedupe: str | None = None,
    ) -> Parcel | None:
        """`put`, and in the same transaction claim the lane's head for `holder` (as
        `claim_heads`): the head when it is due and was free, else None."""
        ...

    def put_many(
        self, letters: list[Letter], *, holder: str | None = None, until: datetime | None = None
    ) -> list[Parcel]:
        """Queue them all in one transaction (a burst of reminders: one commit, not one
        per message), in order; a `dedupe` key already queued queues nothing again. With
        `holder`, their lanes' heads are claimed in the same transaction (as
        `claim_heads`), and answered."""
        ...

    def claim_heads(
        self, lanes: list[str], holder: str, now: datetime, until: datetime
    ) -> list[Parcel]:
        """Claim these lanes' heads that are due and free (unclaimed, lapsed, or already
        `holder`'s) for `holder` until `until`, in one statement; those claimed."""
        ...

    def claim_due(
        self, holder: str, now: datetime, until: datetime, limit: int, *, busy: list[str]
    ) -> list[Parcel]:
        """As `claim_heads`, for any lane but `busy`, at most `limit` heads, oldest first."""
        ...

    def head(self, lane: str) -> Parcel | None:
        """The lane's oldest undelivered parcel: nothing behind it goes before it."""
        ...

    def following(self, parcel: Parcel, limit: int) -> list[Parcel]:
        """Up to `limit` pending parcels queued after `parcel` in its lane, in order: what
        may go in the same message (nobody else sends them while `parcel` is pending)."""
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

    def latest_refs(self, kind: str) -> dict[str, str]:
        """Each lane's latest chat reference among delivered parcels of this kind (kept
        a week: `prune`)."""
        ...

    def delivered(self, parcel_id: int, ref: str | None) -> None: ...

    def delivered_next(
        self,
        parcel: Parcel,
        ref: str | None,
        holder: str,
        until: datetime,
        *,
        also: Sequence[int] = (),
    ) -> Parcel | None:
        """Mark `parcel` delivered, and the parcels `also` that went in the same message,
        and claim its lane's next head (as `claim_heads`), in one transaction: the next
        head when claimed, else None."""
        ...

    def retry(self, parcel_id: int, not_before: datetime, error: str) -> None: ...

    def give_up(self, parcel_id: int, error: str) -> None: ...

    def prune(self, before: datetime) -> int:
        """Forget parcels delivered or given up before `before`; how many."""
        ...
