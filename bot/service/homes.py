"""Keeping App Homes current: after every change, the Home of each person it concerns is
shown again (their own request or role changed, or a request they may decide came or went).

Every such change is audited, so the audit trail is what is listened to. Only people
whose Home was shown since the bot started are refreshed: anyone else sees a fresh one
when they open it. Refreshes run after the change, in the background and one after the
other, so the use case is not slowed and the last Home published is never older than the
last change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from bot.domain.audit import AuditEvent, AuditKind
from bot.domain.people import PersonKey
from bot.domain.requests import ActivationRecord
from bot.service.ports import Store

log = logging.getLogger(__name__)

Refresh = Callable[[PersonKey], Awaitable[None]]
MayDecide = Callable[[ActivationRecord, PersonKey], Awaitable[bool]]

K = AuditKind
NO_CHANGE = frozenset({K.REFUSED, K.DECISION_REFUSED, K.REMINDED})
# What starts or ends a request's wait for an approver, or changes what its approvers'
# "Waiting for you" says of it (how often they were reminded).
APPROVER_SIDE = frozenset(
    {K.PENDING_APPROVAL, K.APPROVED, K.DENIED, K.EXPIRED, K.CANCELLED}
    | {K.APPROVERS_REMINDED, K.ESCALATED}
)


class Homes:
    """Whose Home is open, and refreshing those a change concerns."""

    def __init__(self, store: Store, refresh: Refresh, may_decide: MayDecide) -> None:
        self._store, self._refresh, self._may_decide = store, refresh, may_decide
        self._viewers: set[PersonKey] = set()
        self._changes: list[AuditEvent] = []
        self._task: asyncio.Task[None] | None = None

    def shown(self, person: PersonKey) -> None:
        """`person`'s Home was just read to be shown: keep it current from now on."""
        self._viewers.add(person)

    def people(self) -> frozenset[PersonKey]:
        """Whose Home is kept current (shown since the bot started)."""
        return frozenset(self._viewers)

    def changed(self, event: AuditEvent) -> None:
        """An audited change (the audit trail's listener): refresh whom it concerns, soon."""
        if event.kind in NO_CHANGE or not self._viewers:
            return
        self._changes.append(event)
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._task = loop.create_task(self._flush())

    async def settled(self) -> None:
        """Wait until every refresh asked for so far has run (tests; shutting down)."""
        while self._task is not None and not self._task.done():
            if self._task.get_loop() is not asyncio.get_running_loop():
                return
            await asyncio.shield(self._task)

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _flush(self) -> None:
        while self._changes:
            changes, self._changes = self._changes, []
            for person in await self._concerned(changes):
                try:
                    await self._refresh(person)
                except Exception:  # noqa: BLE001 - a stale Home must not stop the others
                    log.warning("refreshing the App Home of %s failed", person, exc_info=True)

    async def _concerned(self, changes: list[AuditEvent]) -> list[PersonKey]:
        """Viewers whom the changes concern, each once, in the order found."""
        found: dict[PersonKey, None] = {}
        for event in changes:
            record = self._store.get_request(event.request_id) if event.request_id else None
            for person in (event.person, record.requester if record else None):
                if person is not None and person in self._viewers:
                    found[person] = None
            if record is not None and event.kind in APPROVER_SIDE:
                for viewer in sorted(self._viewers - found.keys(), key=str):
                    if await self._may_decide(record, viewer):
                        found[viewer] = None
        return list(found)
