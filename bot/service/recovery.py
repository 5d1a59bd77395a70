"""Requests left `activating`, settled from what Graph holds: after a crash (the process
died between claiming a request and recording Graph's answer), once, on start; and
activations Entra accepted but had not applied yet (Granted, PendingProvisioning ...),
followed by every sweep until their request is in effect or ended."""

from __future__ import annotations

import logging
from datetime import datetime

from bot.domain.audit import AuditKind, event_for
from bot.domain.requests import IN_EFFECT, NOT_YET, ActivationRecord, RequestState
from bot.errors import GraphError
from bot.service.deps import Deps
from bot.service.reminders import ReminderService
from bot.service.signins import SignInRequired, StepUpRequired

log = logging.getLogger(__name__)
S = RequestState
INTERRUPTED = (
    "pimbot restarted while activating {role}; Entra shows it is not active. "
    "Nothing was activated: please ask again."
)
# An extension's activation record is left to the reconciliation (Graph's end wins).
EXTENSION_INTERRUPTED = (
    "pimbot restarted while extending {role}; `/pim status` shows what is active now. "
    "Ask again to extend it if you still need to."
)


async def recover_activating(service: Deps, reminders: ReminderService) -> int:
    """Move each `activating` request to `active` (Graph has the assignment: reminders are
    planned) or `failed` (it has not); tell the requester and audit. Returns how many
    were settled; a user whose Graph read fails is left for the next start."""
    settled = 0
    for record in service.store.list_requests(states=frozenset({S.ACTIVATING})):
        if record.graph_request_id is not None:  # Graph answered: its request tells
            settled += await _follow(service, reminders, record)
            continue
        if record.extends is not None:  # an extension: its activation is reconciled
            settled += await _failed(service, record, EXTENSION_INTERRUPTED)
            continue
        try:
            with service.actors.acting_as(record.requester):
                instances = await service.graph.list_active(record.principal_id)
        except GraphError as exc:
            log.warning("recovery: %s left activating (%s)", record.id, exc.code)
            continue
        except (SignInRequired, StepUpRequired):
            log.warning("recovery: %s left activating (its user must sign in)", record.id)
            continue
        # The assignment at the record's scope: the same role elsewhere is not this one.
        live = [
            i
            for i in instances
            if (i.kind, i.role_id, i.scope) == (record.target_kind, record.role_id, record.scope)
        ]
        if live:
            settled += await _activated(service, reminders, record, live[0].start, live[0].end)
        else:
            settled += await _failed(service, record)
    return settled


async def settle_provisioning(service: Deps, reminders: ReminderService) -> int:
    """Each activation Entra accepted but had not applied: active once its request is in
    effect, failed if Entra ended it; still pending, left for the next sweep. (A request
    claimed but not yet answered has no Graph request id and is not touched.)"""
    settled = 0
    for record in service.store.list_requests(states=frozenset({S.ACTIVATING})):
        if record.graph_request_id is not None:
            settled += await _follow(service, reminders, record)
    return settled


async def _follow(service: Deps, reminders: ReminderService, record: ActivationRecord) -> int:
    try:
        with service.actors.acting_as(record.requester):
            requests = await service.graph.list_requests(record.principal_id)
    except (GraphError, SignInRequired, StepUpRequired) as exc:
        log.warning("request %s left activating (%s)", record.id, type(exc).__name__)
        return 0
    seen = next((r for r in requests if r.id == record.graph_request_id), None)
    if seen is None or seen.status in NOT_YET:
        return 0
    if seen.status in IN_EFFECT:
        return await _activated(
            service, reminders, record, seen.start, seen.end, "in effect in Microsoft Entra"
        )
    text = f"Microsoft Entra ended request {record.id} as {seen.status}: nothing was activated."
    done = service.store.transition(record.id, frozenset({S.ACTIVATING}), S.FAILED, error=text)
    if done is None:
        return 0
    await _audit(service, AuditKind.ACTIVATION_FAILED, done, f"Entra: {seen.status}")
    await service.notifier.activation_settled(done)
    return 1


async def _activated(
    service: Deps,
    reminders: ReminderService,
    record: ActivationRecord,
    start: datetime | None,
    end: datetime | None,
    detail: str = "settled from Graph after a restart",
) -> int:
    start_at = start or service.clock.now()
    end_at = end or start_at + record.duration
    done = service.store.transition(
        record.id, frozenset({S.ACTIVATING}), S.ACTIVE, start=start_at, end=end_at
    )
    if done is None:
        return 0
    reminders.plan(done)
    await _audit(service, AuditKind.ACTIVATED, done, detail)
    await service.notifier.activation_settled(done)
    return 1


async def _failed(service: Deps, record: ActivationRecord, why: str = INTERRUPTED) -> int:
    text = why.format(role=record.role_name)
    done = service.store.transition(record.id, frozenset({S.ACTIVATING}), S.FAILED, error=text)
    if done is None:
        return 0
    await _audit(service, AuditKind.ACTIVATION_FAILED, done, "interrupted by a restart")
    await service.notifier.activation_settled(done)
    return 1


async def _audit(service: Deps, kind: AuditKind, record: ActivationRecord, detail: str) -> None:
    event = event_for(kind, record, at=service.clock.now(), actor=record.requester, detail=detail)
    await service.audit.record(event)
