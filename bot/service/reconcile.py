"""Reconciliation with the tenant: one paged, tenant-wide read of live assignments per
`reconcile_every` (on the bot's clock, so a moved clock triggers it like time passing).

From that one read: pimbot's own live activations are synced (ended or moved outside
pimbot), and every live assignment of a role pimbot knows that pimbot did not grant is
announced in the audit channel as "outside pimbot", once (remembered across restarts);
with `drift.remove_outside_activations` it is removed too, never a permanent assignment
or a break-glass account's, and never within Entra's 5-minute floor.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from bot.domain.drift import OutsideActivity
from bot.domain.models import ActiveAssignment, ScheduleRequest
from bot.domain.requests import IN_EFFECT, ActivationRecord, RequestState
from bot.domain.targets import Target
from bot.errors import GraphError
from bot.service.deps import Deps
from bot.service.reminders import ReminderService
from bot.service.signins import SignInRequired, StepUpRequired

log = logging.getLogger(__name__)
S = RequestState
OURS = frozenset({S.ACTIVATING, S.ACTIVE})
# "you can't deactivate a role assignment within five minutes after activation"
# (https://learn.microsoft.com/en-us/entra/id-governance/privileged-identity-management/
# pim-how-to-activate-role, "Deactivate a role assignment"); the sandbox holds adminRemove
# to it too.
FLOOR = timedelta(minutes=5)
REMOVAL_REASON = "Removed by pimbot: active outside pimbot (drift.remove_outside_activations)"
EPOCH = datetime.min.replace(tzinfo=UTC)
Key = tuple[str, str, str]  # principal id, role id, scope id


class ReadListener(Protocol):
    """What else is shown from the tenant-wide read (the board), and the roles it needs."""

    def roles(self) -> set[str]: ...

    async def seen(self, read: list[ActiveAssignment]) -> None: ...


class SeenStore(Protocol):
    """Outside-pimbot instances already announced (bot.store.drift.SqlDrift)."""

    def seen(self, instance_ids: Iterable[str]) -> set[str]: ...

    def mark_seen(self, instance_id: str, at: datetime, *, removed: bool = False) -> None: ...


class Reconciler:
    def __init__(
        self,
        deps: Deps,
        seen: SeenStore,
        reminders: ReminderService,
        *,
        also: ReadListener | None = None,
    ) -> None:
        self._svc, self._seen, self._reminders = deps, seen, reminders
        self._break_glass_ids: set[str] | None = None
        self._also = also  # the board: shown from this read, not a second one

    def _roles_read(self, ours: list[ActivationRecord]) -> set[str]:
        roles = self.known_roles() | {r.role_id for r in ours}
        return roles | self._also.roles() if self._also is not None else roles

    def known_roles(self) -> set[str]:
        """The role ids pimbot.yml names: whose activity outside pimbot is reported."""
        catalog = self._svc.catalog
        return {catalog.resolve(cfg.role).id.lower() for cfg in self._svc.config.roles.values()}

    async def run(self) -> int:
        """One tenant-wide read; returns how many records or outside instances it acted on."""
        ours = self._svc.store.list_requests(states=OURS)
        known = self.known_roles()
        try:
            instances = await self._svc.graph.list_active_all(self._roles_read(ours))
        except (GraphError, SignInRequired, StepUpRequired) as exc:
            log.warning("reconcile: tenant-wide read failed this round (%s)", type(exc).__name__)
            return 0
        if self._also is not None:
            await self._also.seen(instances)
        changed = await self._reminders.reconcile_with(instances)
        mine = {(r.principal_id, r.role_id.lower(), r.scope.id) for r in ours}
        outside = [i for i in instances if i.role_id.lower() in known and _key(i) not in mine]
        return changed + await self._outside(outside)

    async def _outside(self, instances: list[ActiveAssignment]) -> int:
        already = self._seen.seen(i.id for i in instances)
        acted = 0
        for instance in instances:
            kept = await self._kept(instance)
            removable = self._svc.config.drift.remove_outside_activations and kept is None
            if instance.id in already and not removable:
                continue
            acted += await self._report(instance, kept, removable)
        return acted

    async def _report(self, instance: ActiveAssignment, kept: str | None, removable: bool) -> int:
        now = self._svc.clock.now()
        removed = False
        if removable:
            removed, kept = await self._remove(instance)
        seen = await self._describe(instance, removed, kept)
        self._seen.mark_seen(instance.id, now, removed=removed)
        await self._svc.notifier.outside_pimbot(seen)
        return 1

    async def _kept(self, instance: ActiveAssignment) -> str | None:
        """Why an outside assignment would not be removed; None: it may be, now."""
        if not self._svc.config.drift.remove_outside_activations:
            return None
        if instance.end is None:
            return "a permanent assignment is never removed by pimbot"
        if instance.principal_id in await self._break_glass():
            return "a break-glass account (drift.break_glass_accounts)"
        started = instance.start or self._svc.clock.now()
        if self._svc.clock.now() - started < FLOOR:
            return "less than 5 minutes old (Entra's floor); removed at a later round"
        return None

    async def _remove(self, instance: ActiveAssignment) -> tuple[bool, str | None]:
        role = self._svc.catalog.by_id(instance.role_id)
        target = Target(instance.kind, role, instance.scope)
        try:
            await self._svc.graph.deactivate(instance.principal_id, target, REMOVAL_REASON)
        except GraphError as exc:
            log.warning("reconcile: removing %s failed (%s)", instance.id, exc.code)
            return False, f"removal failed: {exc.user_message}"
        return True, None

    async def _break_glass(self) -> set[str]:
        """The break-glass accounts' object ids (UPNs resolved once; an id stays itself)."""
        if self._break_glass_ids is None:
            ids: set[str] = set()
            for account in self._svc.config.drift.break_glass_accounts:
                try:
                    ids.add((await self._svc.graph.get_user(account)).id)
                except GraphError:
                    ids.add(account)  # unresolvable: kept as given (it may be an id)
            self._break_glass_ids = ids
        return self._break_glass_ids

    async def _describe(
        self, instance: ActiveAssignment, removed: bool, kept: str | None
    ) -> OutsideActivity:
        graph = self._svc.graph
        try:
            user = await graph.get_user(instance.principal_id)
            who = f"{user.display_name} ({user.user_principal_name})"
        except GraphError:
            who = instance.principal_id  # a group or a service principal: its id
        request = await self._request_for(instance)
        return OutsideActivity(
            instance,
            self._svc.catalog.by_id(instance.role_id).display_name,
            who,
            request.justification if request else None,
            request.ticket if request else None,
            removed=removed,
            kept=kept,
        )

    async def _request_for(self, instance: ActiveAssignment) -> ScheduleRequest | None:
        """The request that made it, for its justification and ticket: one read for a
        newly seen instance only (the principal's requests, newest applied first)."""
        try:
            requests = await self._svc.graph.list_requests(instance.principal_id)
        except GraphError:
            return None
        made = [
            r
            for r in requests
            if r.role_id.lower() == instance.role_id.lower()
            and r.status in IN_EFFECT
            and r.action in ("adminAssign", "selfActivate")
        ]
        made.sort(key=lambda r: r.created or EPOCH)
        return made[-1] if made else None


def _key(instance: ActiveAssignment) -> Key:
    return instance.principal_id, instance.role_id.lower(), instance.scope.id
