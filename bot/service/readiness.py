"""Readiness: an activation Graph accepted, followed to "in effect".

Accepted is not usable: Entra provisions the request, creates the schedule instance, and
only then does the directory's own role assignment appear (users report minutes between
"activated" and working access). The requester's DM says which stage it is at, edited
in place, and how long it took; past `readiness.timeout` they and the audit channel are
told. Followed every sweep, so a moved clock moves it on too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from bot.domain.drift import Readiness, Stage
from bot.domain.requests import ActivationRecord, RequestState
from bot.errors import GraphError
from bot.service.deps import Deps
from bot.service.signins import SignInRequired, StepUpRequired

log = logging.getLogger(__name__)
S = RequestState
FOLLOWED = frozenset({S.ACTIVATING, S.ACTIVE})
_ORDER = (Stage.REQUESTED, Stage.PROVISIONING, Stage.IN_EFFECT)


class ReadinessStore(Protocol):
    """Where followed activations are kept (bot.store.drift.SqlDrift)."""

    def start_readiness(self, progress: Readiness) -> bool: ...

    def save_readiness(self, progress: Readiness) -> None: ...

    def following(self) -> list[Readiness]: ...

    def stop_following(self, request_id: str) -> None: ...


@dataclass(frozen=True, slots=True)
class TenantView:
    """One tick's tenant-wide reads (application identity): the live schedule instances of
    the followed roles and the directory's assignments of those roles, keyed (principal,
    role, scope); `failed`: Graph could not be read this round (every stage stays)."""

    instances: frozenset[tuple[str, str, str, str]] = frozenset()  # + the target's kind
    in_effect: frozenset[tuple[str, str, str]] = frozenset()
    failed: bool = False


class ReadinessService:
    def __init__(self, deps: Deps, store: ReadinessStore) -> None:
        self._svc, self._store = deps, store

    async def accepted(self, record: ActivationRecord, *, provisioned: bool) -> None:
        """Graph accepted `record` (`provisioned`: its request is already Provisioned):
        post the requester's readiness DM and follow it from now on."""
        await self.announce(record, self.start(record, provisioned=provisioned))

    def start(self, record: ActivationRecord, *, provisioned: bool) -> Readiness | None:
        """`accepted`'s row (in the caller's transaction, inside `Store.together`): the
        progress to `announce`, or None when it is followed already."""
        stage = Stage.PROVISIONING if provisioned else Stage.REQUESTED
        progress = Readiness(record.id, self._svc.clock.now(), stage)
        return progress if self._store.start_readiness(progress) else None

    async def announce(self, record: ActivationRecord, progress: Readiness | None) -> None:
        """The requester's readiness DM, for a `start` that began following."""
        if progress is not None:
            await self._svc.notifier.readiness(record, progress, first=True)

    async def follow(self) -> int:
        """Move every followed activation on as far as Graph shows; returns how many moved.
        With the application's identity, one round reads the tenant once for them all (the
        instances, then each followed role's assignments) rather than twice per activation."""
        now = self._svc.clock.now()
        followed = [(p, self._svc.store.get_request(p.request_id)) for p in self._store.following()]
        live = [(p, r) for p, r in followed if r is not None and _followed(r, now)]
        for progress, record in followed:
            if record is None or not _followed(record, now):
                self._store.stop_following(progress.request_id)  # failed, ended: told elsewhere
        view = await self._tenant_view([r for _, r in live]) if self._tenant_wide else None
        moved = 0
        for progress, record in live:
            moved += await self._follow(progress, record, view)
        return moved

    @property
    def _tenant_wide(self) -> bool:
        return self._svc.config.graph.identity != "user"

    async def _tenant_view(self, records: list[ActivationRecord]) -> TenantView | None:
        provisioned = [r for r in records if r.state is S.ACTIVE]
        if not provisioned:
            return None  # nothing to read: activating ones wait for settle_provisioning
        graph = self._svc.graph
        try:
            live = await graph.list_active_all({r.role_id for r in provisioned})
            instances = frozenset(
                (a.principal_id, a.kind.value, a.role_id.lower(), a.scope.id) for a in live
            )
            seen = {r.role_id for r in provisioned if _instance_key(r) in instances}
            in_effect: set[tuple[str, str, str]] = set()
            for role_id in sorted(seen):  # one read per role shown, not per activation
                held = await graph.role_assignments(role_id)
                in_effect |= {(principal, role_id.lower(), scope) for principal, scope in held}
        except GraphError as exc:
            log.warning("readiness not read this round (%s)", type(exc).__name__)
            return TenantView(failed=True)
        return TenantView(instances, frozenset(in_effect))

    async def _follow(
        self, progress: Readiness, record: ActivationRecord, view: TenantView | None
    ) -> int:
        now = self._svc.clock.now()
        stage = await self._stage(record, progress.stage, view)
        new = progress
        if _ORDER.index(stage) > _ORDER.index(progress.stage):
            new = replace(new, stage=stage, in_effect_at=now if stage is Stage.IN_EFFECT else None)
        timeout = self._svc.config.readiness.timeout
        if new.stage is not Stage.IN_EFFECT and not new.late and now - new.accepted_at >= timeout:
            new = replace(new, late=True)
            await self._svc.notifier.readiness_late(record, new)
        if new == progress:
            return 0
        self._store.save_readiness(new)
        await self._svc.notifier.readiness(record, new, first=False)
        return 1

    async def _stage(
        self, record: ActivationRecord, known: Stage, view: TenantView | None
    ) -> Stage:
        """Where Graph says `record` is; `known` when Graph cannot be read this round."""
        if record.state is S.ACTIVATING:
            return Stage.REQUESTED  # not provisioned: settle_provisioning follows the request
        if view is not None:
            return known if view.failed else _stage_in(view, record)
        try:
            with self._svc.actors.acting_as(record.requester):
                return await self._read_stage(record)
        except (GraphError, SignInRequired, StepUpRequired) as exc:
            log.warning("readiness of %s not read this round (%s)", record.id, type(exc).__name__)
            return known

    async def _read_stage(self, record: ActivationRecord) -> Stage:
        """One activation's stage, read as its requester (user mode)."""
        graph = self._svc.graph
        instances = await graph.list_active(record.principal_id)
        target = (record.target_kind, record.role_id, record.scope.id)
        if not any((i.kind, i.role_id, i.scope.id) == target for i in instances):
            return Stage.REQUESTED  # provisioned, but the schedule instance is not there yet
        try:
            in_effect = await graph.assignment_in_effect(record.principal_id, record.target)
        except GraphError as exc:
            if exc.status != 403 or self._svc.config.graph.identity != "user":
                raise
            # A signed-in user may read roleAssignments only with a directory reader role
            # (rbacapplication-list-roleassignments): the instance is the best proof left.
            return Stage.IN_EFFECT
        return Stage.IN_EFFECT if in_effect else Stage.PROVISIONING


def _followed(record: ActivationRecord, now: datetime) -> bool:
    over = record.end is not None and record.end <= now
    return record.state in FOLLOWED and not over


def _instance_key(r: ActivationRecord) -> tuple[str, str, str, str]:
    return (r.principal_id, r.target_kind.value, r.role_id.lower(), r.scope.id)


def _stage_in(view: TenantView, record: ActivationRecord) -> Stage:
    """The stage the tenant-wide reads show: the requester's own schedule instance, then
    the directory's own role assignment (which trails it)."""
    if _instance_key(record) not in view.instances:
        return Stage.REQUESTED  # provisioned, but the schedule instance is not there yet
    held = (record.principal_id, record.role_id.lower(), record.scope.id)
    return Stage.IN_EFFECT if held in view.in_effect else Stage.PROVISIONING
