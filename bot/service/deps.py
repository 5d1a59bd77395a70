"""What every use case works with, built once by the composition root and never changed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.clock import Clock
from bot.domain.audit import AuditEvent
from bot.domain.roles import RoleCatalog
from bot.service.identity import IdentityResolver
from bot.service.outbox import Letter
from bot.service.policies import PolicyCache
from bot.service.ports import Actors, Notifier, PimGraph, Store
from bot.service.queries import RoleQueries
from bot.settings import PolicyFile


class AuditTrail:
    """Every audit event: stored with its line to the audit channel queued in the same
    transaction, then that line sent from the outbox."""

    def __init__(self, store: Store, notifier: Notifier) -> None:
        self._store, self._notifier = store, notifier
        self._listeners: list[Callable[[AuditEvent], None]] = []

    def listen(self, listener: Callable[[AuditEvent], None]) -> None:
        """Call `listener` with every event once recorded (it must not raise or block):
        every change to someone's requests or roles is audited, so this sees them all."""
        self._listeners.append(listener)

    async def record(self, event: AuditEvent) -> None:
        """The row and its line to the audit channel, kept in one transaction (a replica
        killed between two would keep the row and lose its line); the line is then sent
        from the outbox, so a chat outage cannot fail the request being audited."""
        self.keep(event)
        await self.recorded([event])

    def keep(self, event: AuditEvent) -> None:
        """The row and its line queued, in the caller's transaction when inside
        `Store.together`; `recorded` then sends the line."""
        self._store.append_audit(event, self._notifier.audit_lines([event]))

    def lines(self, events: list[AuditEvent]) -> list[Letter]:
        """The letters copying `events` to the audit channel, for a caller that keeps the
        rows in a transaction of its own (a batch of reminders marked sent): both queued
        together, then `recorded`."""
        return self._notifier.audit_lines(events)

    async def recorded(self, events: list[AuditEvent]) -> None:
        """Events the store holds already, their lines queued with them (`lines`): those
        lines sent, and the events told to the listeners."""
        if not events:
            return
        await self._notifier.send_audit_lines()
        for event in events:
            for listener in self._listeners:
                listener(event)


@dataclass(frozen=True, slots=True)
class Deps:
    """The ports and values the use cases share. `actors` says whom Graph calls act as:
    the bot itself (application mode) or the signed-in user a use case is for."""

    graph: PimGraph
    store: Store
    notifier: Notifier
    audit: AuditTrail
    identity: IdentityResolver
    catalog: RoleCatalog
    policies: PolicyCache
    queries: RoleQueries
    config: PolicyFile
    clock: Clock
    actors: Actors
