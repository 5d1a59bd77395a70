"""Readiness: an activation Graph accepted, followed to "in effect".

Accepted is not usable: Entra provisions the request, creates the schedule instance, and
only then does the directory's own role assignment appear (users report minutes between
"activated" and working access). The requester's DM says which stage it is at, edited
in place, and how long it took; past `readiness.timeout` they and the audit channel are
told. Followed every sweep, so a moved clock moves it on too.
"""

from __future__ import annotations

import logging
from dataclasses import replace
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


class ReadinessService:
    def __init__(self, deps: Deps, store: ReadinessStore) -> None:
        self._svc, self._store = deps, store

    async def accepted(self, record: ActivationRecord, *, provisioned: bool) -> None:
        """Graph accepted `record` (`provisioned`: its request is already Provisioned):
        post the requester's readiness DM and follow it from now on."""
        stage = Stage.PROVISIONING if provisioned else Stage.REQUESTED
        progress = Readiness(record.id, self._svc.clock.now(), stage)
        if self._store.start_readiness(progress):
            await self._svc.notifier.readiness(record, progress, first=True)

    async def follow(self) -> int:
        """Move every followed activation on as far as Graph shows; returns how many moved."""
        moved = 0
        for progress in self._store.following():
            moved += await self._follow(progress)
        return moved

    async def _follow(self, progress: Readiness) -> int:
        record = self._svc.store.get_request(progress.request_id)
        now = self._svc.clock.now()
        over = record is not None and record.end is not None and record.end <= now
        if record is None or record.state not in FOLLOWED or over:
            self._store.stop_following(progress.request_id)  # failed, ended: told elsewhere
            return 0
        stage = await self._stage(record, progress.stage)
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

    async def _stage(self, record: ActivationRecord, known: Stage) -> Stage:
        """Where Graph says `record` is; `known` when Graph cannot be read this round."""
        try:
            with self._svc.actors.acting_as(record.requester):
                return await self._read_stage(record)
        except (GraphError, SignInRequired, StepUpRequired) as exc:
            log.warning("readiness of %s not read this round (%s)", record.id, type(exc).__name__)
            return known

    async def _read_stage(self, record: ActivationRecord) -> Stage:
        graph = self._svc.graph
        if record.state is S.ACTIVATING:
            return Stage.REQUESTED  # not provisioned: settle_provisioning follows the request
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
